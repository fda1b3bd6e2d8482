#!/bin/bash
# The layout check of make check: every C source and header of the tree
# is as clang-format (.clang-format at the root) lays it out. `make format`
# fixes what it reports.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
command -v clang-format >/dev/null ||
	{ echo "clang-format is missing: scripts/deps.sh test installs it"; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else
	mapfile -t files < <(find src tools tests -name '*.[ch]' | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "no C files found"; exit 1; }
bad=()
for f in "${files[@]}"; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "not laid out by clang-format ($(clang-format --version)):"
	for f in "${bad[@]}"; do
		echo "  $f"
		clang-format "$f" | diff -u "$f" - | head -20 | sed 's/^/    /'
	done
	echo "run: make format"
	exit 1
fi
echo "${#files[@]} files laid out by clang-format"
