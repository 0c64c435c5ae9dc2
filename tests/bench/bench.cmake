# Benchmarks against ssh-agent (see bench/README.md).  ctest runs a short
# version that only checks that every number was produced: timing on a
# shared machine never fails a build.
add_library(bench_wire STATIC ${CMAKE_CURRENT_LIST_DIR}/bench_wire.c)
target_link_libraries(bench_wire PUBLIC xoauth_static)
add_executable(bench_conn ${CMAKE_CURRENT_LIST_DIR}/bench_conn.c)
target_link_libraries(bench_conn PRIVATE bench_wire)
add_executable(bench_load ${CMAKE_CURRENT_LIST_DIR}/bench_load.c)
find_package(Threads REQUIRED)
target_link_libraries(bench_load PRIVATE bench_wire Threads::Threads)
add_executable(bench_echo ${CMAKE_CURRENT_LIST_DIR}/bench_echo.c)
target_link_libraries(bench_echo PRIVATE bench_wire)
add_test(NAME bench.short
	COMMAND ${PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/bench.py --short --check)
set_tests_properties(bench.short PROPERTIES TIMEOUT 300 LABELS bench
	ENVIRONMENT "XO_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
add_executable(bench_vault ${CMAKE_CURRENT_LIST_DIR}/bench_vault.c)
target_link_libraries(bench_vault PRIVATE bench_wire xo_vault_pure
	PkgConfig::JANSSON PkgConfig::SODIUM)
add_test(NAME bench.endpoint
	COMMAND ${PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_endpoint.py)
set_tests_properties(bench.endpoint PROPERTIES TIMEOUT 60 LABELS bench
	ENVIRONMENT "XO_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
# Instructions the agent spends per TOKEN on an open connection, counted
# by callgrind (callgrind_rtt.py).  Not a time, which the machine's load
# moves, but a guard against work that does not belong on the hot path:
# zeroing an 8 KiB request per TOKEN had made it 15,500 (now 6,700, 4,060
# of them the cipher).  The budget leaves half again as much for another
# libsodium, glibc or valgrind, so that only such a regression crosses
# it.  Not under the sanitizers, which valgrind cannot run, and only for
# the optimized build the budget was set on.
if(NOT XO_SANITIZE AND NOT XO_MEMCHECK AND CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo")
	add_test(NAME bench.token_instructions
		COMMAND ${PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/callgrind_rtt.py
			-n 2000 --max 10000)
	set_tests_properties(bench.token_instructions PROPERTIES TIMEOUT 120
		LABELS bench SKIP_RETURN_CODE 77
		ENVIRONMENT "XO_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
endif()
