"""Built-in provisioning modules."""


class NoneModule:
    """Records success for every command: for products with no server to talk to."""

    name = "none"
