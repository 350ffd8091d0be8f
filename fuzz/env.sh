# Sourced by .ci/fuzz and fuzz/soak: the sanitizer runtime settings (see docs/testing.md).
ASAN_RT=$("${CC:-clang-14}" -print-file-name=libclang_rt.asan-x86_64.so)
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
# Cython's keyword-argument parsing adds 0 to a NULL pointer (harmless); suppressed by name.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/fuzz/ubsan.supp
# with the ASan+UBSan build first on the path and the runtime preloaded
asan() { LD_PRELOAD=$ASAN_RT PYTHONPATH=$PWD/fuzz/.build/asan "$@"; }
# guided: the fuzzer build, libFuzzer preloaded (fuzz/run.py)
guided() { LD_PRELOAD=$PWD/fuzz/.build/libfuzzer.so PYTHONPATH=$PWD/fuzz/.build/fuzzer "$@"; }
GUIDED_OPTS=(-timeout=1 -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1)
