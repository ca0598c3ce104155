"""The sandbox payer portal: a web app two portal payers share, each in its own page layout."""
