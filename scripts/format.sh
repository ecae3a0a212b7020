#!/usr/bin/env bash
# Formats ward's C++ sources with clang-format (style: .clang-format).
#   bash scripts/format.sh           rewrite files in place
#   bash scripts/format.sh --check   report unformatted files, exit 1 if any
#                                    (exit 77 if clang-format is not installed)
# Covers include/ tests/ bench/ examples/ (not single_include/: it is generated
# from include/). $CLANG_FORMAT overrides the clang-format binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=0
case ${1:-} in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null 2>&1; then
  if [[ $check == 1 ]]; then
    echo "WARD-SKIP: clang-format not installed"
    exit 77  # "skipped" for ctest (format.check has SKIP_RETURN_CODE 77)
  fi
  echo "format.sh: $clang_format not found (apt-get install clang-format)" >&2
  exit 1
fi

dirs=()
for d in include tests bench examples; do [[ -d $d ]] && dirs+=("$d"); done
files=()
if [[ ${#dirs[@]} -gt 0 ]]; then
  mapfile -d '' files < <(find "${dirs[@]}" -type f \
    \( -name '*.hpp' -o -name '*.h' -o -name '*.cpp' -o -name '*.cc' \) -print0 | sort -z)
fi
if [[ ${#files[@]} -eq 0 ]]; then
  echo "format.sh: no C++ files found"
  exit 0
fi

if [[ $check == 1 ]]; then
  if "$clang_format" --style=file --dry-run --Werror "${files[@]}"; then
    echo "format.sh: ${#files[@]} files are formatted ($("$clang_format" --version))"
  else
    echo "format.sh: files above are not formatted; run: bash scripts/format.sh" >&2
    exit 1
  fi
else
  "$clang_format" --style=file -i "${files[@]}"
  echo "format.sh: formatted ${#files[@]} files"
fi
