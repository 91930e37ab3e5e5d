"""What goes into the wheel (the rest of the metadata is in pyproject.toml).

Every ``quantviz`` package, found here so a new subpackage needs no edit. The dashboard stays at
the top of the clone (``streamlit run app.py``); the build maps ``app.py``, ``pages/`` and
``.streamlit/config.toml`` into the wheel as ``quantviz/_app/``, so ``quantviz app`` works from a
plain wheel install without a second copy of them in the repository. ``tests/`` and
``benchmarks/`` are not shipped.
"""

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

APP_PACKAGE = "quantviz._app"  # the clone's top folder: of its modules, only app.py is the app


class BuildPy(build_py):
    """build_py that takes only ``app.py`` from the top of the clone (not this file)."""

    def find_package_modules(self, package: str, package_dir: str) -> list:
        modules = super().find_package_modules(package, package_dir)
        if package == APP_PACKAGE:
            modules = [m for m in modules if m[1] == "app"]
        return modules


setup(
    packages=[
        *find_packages(include=["quantviz", "quantviz.*"]),
        APP_PACKAGE,
        f"{APP_PACKAGE}.pages",
    ],
    package_dir={APP_PACKAGE: ".", f"{APP_PACKAGE}.pages": "pages"},
    package_data={APP_PACKAGE: [".streamlit/config.toml"]},
    cmdclass={"build_py": BuildPy},
)
