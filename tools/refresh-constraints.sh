#!/usr/bin/env bash
# Refresh constraints.txt (the known-good versions the test command installs) and what is generated from them.
#
#   bash tools/refresh-constraints.sh            # newest releases within pyproject.toml's ranges
#   TORCH=2.14.1 bash tools/refresh-constraints.sh
#
# In a new virtual environment: torch first (the pinned one unless TORCH says otherwise), then the project with
# the test command's extras and no constraints, so pip takes the newest allowed releases; their versions go to
# constraints.txt, and the stored signatures, planning data and docs/models.md are regenerated from them. Then
# run the README's test command (or .ci/run) and commit the lot together if it passes.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="dev,lora,quant,bench,cachedit,ray,serve"
TORCH="${TORCH:-$(sed -n 's/^torch==//p' constraints.txt)}"
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
. "$venv/bin/activate"
pip install -q "torch==$TORCH"
pip install -q -e ".[$EXTRAS]"
{
  sed -n '1,/^# Refresh/p' constraints.txt
  pip freeze --exclude-editable | sed 's/+[a-z0-9.]*$//'
} > constraints.txt.new
mv constraints.txt.new constraints.txt
python -m videogen.catalog.signatures --write
python -m videogen.memory.regenerate --write
videogen models --markdown > docs/models.md
git --no-pager diff --stat -- constraints.txt src/videogen/configs docs/models.md || true
echo "now run the README's test command (bash .ci/run) and commit constraints.txt with the regenerated files"
