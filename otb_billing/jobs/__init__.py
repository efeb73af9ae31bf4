"""Jobs: the steps of one command put together (read, bill, render, write). The CLI calls these."""
