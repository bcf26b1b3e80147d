"""What needs a kernel: the magics, live views and the event-loop runner. Imports IPython."""
