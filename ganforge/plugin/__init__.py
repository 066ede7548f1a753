"""Plugins: the hooks they implement (``hookspecs``), how they are found (``registry``), what each kind
of component must be (``contract``), how a component is built from its recipe table, and ``plugin new``."""
