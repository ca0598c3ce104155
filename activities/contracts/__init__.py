"""Activity contracts: the names, inputs and outputs of activities, shared by the workflows that call them
and the activity classes that implement them. Plain frozen dataclasses and string constants only, so that
``flows`` can import them without importing any I/O library.
"""
