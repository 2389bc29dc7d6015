#!/usr/bin/env bash
# A separate venv with CKAN and ckanext-dcat as libraries (no database, no Solr), for the test
# that harvests our catalogue with ckanext-dcat's own parser. Separate because CKAN pins its own
# versions of Flask, SQLAlchemy and friends. Usage: bash scripts/ckan.sh [FOLDER] (.venv-ckan).
set -euo pipefail
folder="${1:-.venv-ckan}"
if [ -x "$folder/bin/python" ] && "$folder/bin/python" -c "import ckanext.dcat.processors" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$folder"
# ckan's wheel declares few of the libraries it imports: these are what ckanext-dcat's RDF
# parser reaches (found by importing it); SQLAlchemy 2.1 breaks CKAN 2.12's models.
"$folder/bin/pip" install -q "ckan>=2.11" "ckanext-dcat>=2.1" "sqlalchemy>=2.0,<2.1" flask flask-login flask-babel \
  typing_extensions simplejson msgspec tzlocal dominate markdown nh3 polib file-keeper alembic requests passlib \
  webassets packaging rq pysolr PyJWT
"$folder/bin/python" -c "import ckanext.dcat.processors"
