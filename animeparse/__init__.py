"""animeparse: anime character parsing with SegFormer and cross pseudo supervision."""

__version__ = "0.1.0"
