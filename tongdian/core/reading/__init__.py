"""Reading a text: normalisation, spelling, splitting a long note into parts, and framing that is not a problem."""
