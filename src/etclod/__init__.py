"""etclod: linked open data publishing for European Territorial Cooperation data."""

__version__ = "0.1.0"
