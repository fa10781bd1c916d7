"""Reports: tables, figures and the data contact sheet."""
