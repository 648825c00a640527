# The stand-ins of imports most processes never use go in before anything imports peewee
# or pendulum (hostdesk.models).
import hostdesk.models  # noqa: F401
