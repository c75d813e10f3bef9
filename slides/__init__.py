"""Slide decks: uploaded PDFs, rendered and read in a worker process, stored by opaque ids."""
