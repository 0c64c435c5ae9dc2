# Integration tests: Python (stdlib only) driving the real binaries against
# real servers on 127.0.0.1 that each test starts itself.
find_program(PYTHON3 python3 REQUIRED)
file(GLOB XO_INTEGRATION_TESTS CONFIGURE_DEPENDS
	${CMAKE_CURRENT_LIST_DIR}/test_*.py)

set(xo_integration_env "XO_BUILD_DIR=${PROJECT_BINARY_DIR}"
	"PYTHONDONTWRITEBYTECODE=1")
set(xo_integration_timeout 300)
set(xo_integration_labels integration)
# -DXO_MEMCHECK=ON (scripts/memcheck): the tests start every agent through
# a script that runs it under valgrind's memcheck (tests/valgrind/), each
# process's report in memcheck/logs/ of the build.  Under valgrind the
# agent is several times slower, so the harness waits that much longer
# (XO_TEST_TIME_SCALE) rather than any test being skipped.
set(XO_MEMCHECK_TIME_SCALE 4 CACHE STRING
	"How many times longer the integration tests wait under memcheck")
if(XO_MEMCHECK)
	find_program(VALGRIND valgrind REQUIRED)
	set(xo_memcheck_dir ${PROJECT_BINARY_DIR}/memcheck)
	set(VALGRIND ${VALGRIND})
	set(LOG_DIR ${xo_memcheck_dir}/logs)
	set(ERROR_EXIT 97)
	set(SUPPRESSIONS ${PROJECT_SOURCE_DIR}/tests/valgrind/xoauth-agent.supp)
	set(AGENT $<TARGET_FILE:xoauth-agent>)
	configure_file(${PROJECT_SOURCE_DIR}/tests/valgrind/memcheck-agent.in
		${xo_memcheck_dir}/memcheck-agent.in @ONLY)
	# The script keeps the agent's name: tests copy it, and the agent's
	# -k looks for a process of that name.
	file(GENERATE OUTPUT ${xo_memcheck_dir}/bin/xoauth-agent
		INPUT ${xo_memcheck_dir}/memcheck-agent.in
		FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
			GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
	list(APPEND xo_integration_env
		"XO_TEST_AGENT=${xo_memcheck_dir}/bin/xoauth-agent"
		"XO_MEMCHECK_LOGS=${LOG_DIR}"
		"XO_TEST_TIME_SCALE=${XO_MEMCHECK_TIME_SCALE}")
	math(EXPR xo_integration_timeout "300 * ${XO_MEMCHECK_TIME_SCALE}")
	list(APPEND xo_integration_labels memcheck)
endif()

foreach(t ${XO_INTEGRATION_TESTS})
	get_filename_component(name ${t} NAME_WE)
	add_test(NAME integration.${name}
		COMMAND ${PYTHON3} -m unittest -v ${name}
		WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
	set_tests_properties(integration.${name} PROPERTIES
		TIMEOUT ${xo_integration_timeout}
		LABELS "${xo_integration_labels}"
		ENVIRONMENT "${xo_integration_env}")
endforeach()

# add_login: a small program on libxoauth (test_runtime_accounts.py), so
# that runtime accounts are tested through the library as applications
# use it.
add_executable(add_login ${CMAKE_CURRENT_LIST_DIR}/add_login.c)
target_link_libraries(add_login PRIVATE xoauth_shared)

# sasl_client: one exchange through Cyrus SASL's client API, as mail
# programs drive it (test_sasl_plugin.py), when the SASL plugin is built.
if(TARGET xoauth_sasl)
	find_library(XO_SASL_LIBRARY sasl2 REQUIRED)
	add_executable(sasl_client ${CMAKE_CURRENT_LIST_DIR}/sasl_client.c)
	target_include_directories(sasl_client PRIVATE ${XO_SASL_INCLUDE_DIR})
	target_link_libraries(sasl_client PRIVATE ${XO_SASL_LIBRARY})
endif()

# seal_vault: a vault file from its plain text, of format 1 (before the
# journal) or 2, sealed by the vault's own code (test_vault_journal.py).
add_executable(seal_vault ${CMAKE_CURRENT_LIST_DIR}/seal_vault.c)
target_link_libraries(seal_vault PRIVATE xo_vault_pure PkgConfig::SODIUM)
