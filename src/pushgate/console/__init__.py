"""The admin console at /console: server-rendered pages (Jinja2), SVG charts drawn here, and
the device simulator of fake-provider mode. Signs in with the API's keys and authorises as the
native API does; holds no business rule of its own (services/ does)."""
