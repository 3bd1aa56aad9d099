"""Maps the import package psfleet onto engine/ and psfleet.plugins onto plugins/."""

from setuptools import find_packages, setup

packages = ["psfleet", "psfleet.plugins"]
packages += [f"psfleet.{name}" for name in find_packages("engine")]
packages += [f"psfleet.plugins.{name}" for name in find_packages("plugins")]

setup(
    packages=packages,
    package_dir={"psfleet": "engine", "psfleet.plugins": "plugins"},
    package_data={"psfleet": ["py.typed"]},
)
