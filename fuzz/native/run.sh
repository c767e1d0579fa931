#!/usr/bin/env bash
# Build the native fuzz harnesses with ASan + UBSan and run each for RUNS inputs
# (default 1,000,000), then memcheck the corpora (see fuzz/native/README.md).
# Usage: fuzz/native/run.sh [RUNS]     needs clang-14 and libclang-rt-14-dev (libFuzzer)
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-1000000}
out=${FUZZ_OUT:-/tmp/trioaudit-native-fuzz}
mkdir -p "$out"
clang=$(command -v clang-14 || command -v clang)
src=../../trioaudit/_native/records.c
flags=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -Wall -Wextra)
for target in header split render; do
    "$clang" "${flags[@]}" "fuzz_$target.c" "$src" -o "$out/fuzz_$target"
done
# Seeds: the lines of every real log (one file per line), and their bodies.
seeds="$out/seeds"
if [ ! -d "$seeds" ]; then
    mkdir -p "$seeds"
    cat ../../tests/data/*.log ../../tests/data/wild/*.log |
        split -l 1 -a 5 - "$seeds/line-"
fi
for target in header split render; do
    mkdir -p "$out/corpus-$target"
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$out/fuzz_$target" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 "$out/corpus-$target" "$seeds" 2>&1 |
        grep -E "^(stat::|Done|==|INFO: Seed)|ERROR|SUMMARY" || true
    test "${PIPESTATUS[0]}" -eq 0
done
if [ "${SKIP_VALGRIND:-0}" != 1 ]; then
    gcc -g -O1 -Wall -Wextra corpus_driver.c "$src" -o "$out/corpus_driver"
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all \
        "$out/corpus_driver" ../../tests/data/*.log ../../tests/data/wild/*.log \
        "$out"/corpus-*/* 2>&1 | grep -E "lines,|ERROR SUMMARY|definitely|indirectly"
fi
# The CPython binding over the corpora. CPython 3.11 itself makes valgrind report
# "uninitialised" reads in its int code (importing trioaudit alone: 641 errors in 27
# contexts, with or without the extension); what must be zero is errors of the core.
if [ "${SKIP_VALGRIND:-0}" != 1 ]; then
    python=../../.venv/bin/python
    PYTHONMALLOC=malloc valgrind --num-callers=40 "$python" binding_corpora.py \
        > "$out/binding-valgrind.txt" 2>&1
    grep -E "lines,|ERROR SUMMARY" "$out/binding-valgrind.txt"
    "$python" - "$out/binding-valgrind.txt" <<'PY'
import re, sys
# An error is the core's when a frame of the core comes before any Python bytecode
# frame (the core faulting, or a CPython API it called); errors inside Python code the
# core calls back (the reference's fill step) are CPython's own int noise, as above.
def ours(block):
    if not re.search(r"Invalid|uninitialised|Conditional|definitely lost", block):
        return False
    for line in block.splitlines():
        if re.search(r"_core\.c|records\.c|reassembly\.c|live\.c", line):
            return True
        if "_PyEval_EvalFrameDefault" in line:
            return False
    return False
blocks = re.split(r"\n==\d+== \n", open(sys.argv[1]).read())
found = [b for b in blocks if ours(b)]
print(f"error contexts of the core: {len(found)}")
sys.exit(1 if found else 0)
PY
fi
