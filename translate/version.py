"""The version and the distribution name, on the ground floor so that any layer may print them."""

__version__ = "0.1.0"
#: The distribution name on PyPI: `translate` there is an unrelated text-translation CLI that also
#: installs a `translate` module and command, so the two cannot share one environment.
DISTRIBUTION = "translate-gan"
