"""The screens of the hostdesk TUI."""
