"""Build hook: the checkout's ontology/ (etc.ttl, shapes.ttl, themes.ttl) goes into the wheel as
package data at etclod/ontology/, so an installed etclod builds and serves without a checkout.
Everything else is declared in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithOntology(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "ontology"
        target = Path(self.build_lib) / "etclod" / "ontology"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(source.glob("*.ttl")):
            self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildWithOntology})
