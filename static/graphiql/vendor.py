"""Re-fetch the vendored GraphiQL build: `python3 static/graphiql/vendor.py` (needs npm).

GraphiQL is served from the service's own origin (nothing comes from a CDN), so its
built files live in `vendor/` beside this script. To upgrade, change the pins below
and run the script: it installs the pinned packages with npm into a temporary folder,
copies the prebuilt browser files (the UMD builds the packages publish for CDN use,
unchanged), writes `VERSIONS` (each package's version, each file's size and SHA-256,
which tests/test_graphiql.py checks) and the licences into `LICENSES/`: each shipped
package's own, and `THIRD-PARTY.txt` with every package the bundles are built from.
Then run `uv run pytest tests/test_graphiql.py` (the browser test loads the page).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "vendor"
LICENSES = HERE / "LICENSES"

# GraphiQL 4.1.2 is the newest release that publishes a self-contained browser build
# (UMD: graphql-js, CodeMirror and the subscription client inside; React outside).
# GraphiQL 5 publishes ES modules only, which a browser can load only through a CDN's
# on-the-fly bundling or a bundler of our own. React 18.3.1 is the newest React with UMD
# builds (React 19 has none), and the explorer plugin 4.0.6 is the one for GraphiQL 4.
PINS = {
    "react": "18.3.1",
    "react-dom": "18.3.1",
    "graphiql": "4.1.2",
    "@graphiql/plugin-explorer": "4.0.6",
    # graphiql's peer dependency; its UMD build carries its own copy. Installed so that
    # THIRD-PARTY.txt names graphql-js with its licence.
    "graphql": "16.11.0",
}

# vendor/<name> <- node_modules/<package>/<path>, in the order the page loads them.
FILES = {
    "react.production.min.js": ("react", "umd/react.production.min.js"),
    "react-dom.production.min.js": ("react-dom", "umd/react-dom.production.min.js"),
    "graphiql.min.js": ("graphiql", "graphiql.min.js"),
    "graphiql.min.css": ("graphiql", "graphiql.min.css"),
    "plugin-explorer.umd.js": ("@graphiql/plugin-explorer", "dist/index.umd.js"),
    "plugin-explorer.css": ("@graphiql/plugin-explorer", "dist/style.css"),
}

# Packages that ship no licence file of their own, and where their licence text is.
# GraphiQL's plugins are MIT (their package.json) and come from the graphql/graphiql
# repository, whose LICENSE graphiql's package ships.
LICENCE_FROM = {
    "@graphiql/plugin-explorer": "graphiql",
    "@graphiql/plugin-doc-explorer": "graphiql",
    "@graphiql/plugin-history": "graphiql",
}

LICENCE_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE")


def npm_install(folder: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("error: npm is needed (apt-get install npm)")
    options = ["--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", "--no-save"]
    specs = [f"{name}@{version}" for name, version in PINS.items()]
    subprocess.run(
        [npm, "install", "--prefix", str(folder), *options, *specs],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def manifest(package_dir: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((package_dir / "package.json").read_text())
    return loaded


def licence_files(package_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in package_dir.iterdir()
        if path.is_file() and path.name.upper().startswith(LICENCE_NAMES)
    )


def installed_packages(modules: Path) -> dict[str, Path]:
    """`name@version` -> folder, for every package under `modules` (nested ones too)."""
    found: dict[str, Path] = {}
    for package_json in sorted(modules.rglob("package.json")):
        folder = package_json.parent
        if folder.parent.name != "node_modules" and folder.parent.parent.name != "node_modules":
            continue  # a package.json inside a package (dist/esm/package.json, say)
        data = manifest(folder)
        name, version = data.get("name"), data.get("version")
        if isinstance(name, str) and isinstance(version, str) and folder.match(f"*/{name}"):
            found.setdefault(f"{name}@{version}", folder)
    return found


def licence_text(package_dir: Path, modules: Path) -> str:
    name = str(manifest(package_dir)["name"])
    files = licence_files(package_dir)
    source = LICENCE_FROM.get(name)
    if not files and source is not None:
        origin = modules / source
        files = licence_files(origin)
        note = f"({name} ships no licence file; this is the licence of its repository, "
        note += f"as shipped in {source} {manifest(origin)['version']})\n\n"
        return note + "\n".join(path.read_text() for path in files)
    if not files:
        declared = manifest(package_dir).get("license")
        return f"(no licence file shipped; package.json declares: {declared})\n"
    return "\n".join(path.read_text() for path in files)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="storefront-graphiql-") as temp:
        folder = Path(temp)
        npm_install(folder)
        modules = folder / "node_modules"
        for name, version in PINS.items():
            got = manifest(modules / name)["version"]
            assert got == version, f"npm installed {name} {got}, not {version}"

        shutil.rmtree(VENDOR, ignore_errors=True)
        VENDOR.mkdir()
        lines = ["# Written by vendor.py; do not edit. Packages, then files:", ""]
        lines += [f"{name} {version}" for name, version in PINS.items()]
        lines.append("")
        for target, (package, path) in FILES.items():
            data = (modules / package / path).read_bytes()
            (VENDOR / target).write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            lines.append(f"vendor/{target} {len(data)} {digest} {package}/{path}")
        (HERE / "VERSIONS").write_text("\n".join(lines) + "\n")

        shutil.rmtree(LICENSES, ignore_errors=True)
        LICENSES.mkdir()
        shipped = sorted({package for package, _ in FILES.values()})
        for package in shipped:
            title = f"{package} {manifest(modules / package)['version']}"
            text = f"{title}\n{'=' * len(title)}\n\n{licence_text(modules / package, modules)}"
            (LICENSES / f"{package.lstrip('@').replace('/', '-')}.txt").write_text(text)

        sections = [
            "Every npm package installed with the packages in ../VERSIONS: the dependencies\n"
            "their browser builds were bundled from (the builds were made by their\n"
            "publishers, from their own lockfiles, so a bundled version may differ slightly).\n"
        ]
        for key, package_dir in sorted(installed_packages(modules).items()):
            declared = manifest(package_dir).get("license")
            title = f"{key} ({declared})"
            sections.append(f"{title}\n{'-' * len(title)}\n\n{licence_text(package_dir, modules)}")
        (LICENSES / "THIRD-PARTY.txt").write_text("\n\n".join(sections))

    total = sum(path.stat().st_size for path in VENDOR.iterdir())
    print(f"vendored {len(FILES)} files, {total:,} bytes, into {VENDOR}")


if __name__ == "__main__":
    main()
