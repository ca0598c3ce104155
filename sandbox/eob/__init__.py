"""EOB PDFs as the sandbox's portal payers print them (reportlab), in each payer's own layout."""

from sandbox.eob.render import LAYOUTS, PriorPayment, render_eob

__all__ = ["LAYOUTS", "PriorPayment", "render_eob"]
