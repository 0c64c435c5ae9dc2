# Integration tests: Python (stdlib only) driving the real binaries against
# real servers on 127.0.0.1 that each test starts itself.
find_program(PYTHON3 python3 REQUIRED)
file(GLOB XO_INTEGRATION_TESTS CONFIGURE_DEPENDS
	${CMAKE_CURRENT_LIST_DIR}/test_*.py)
foreach(t ${XO_INTEGRATION_TESTS})
	get_filename_component(name ${t} NAME_WE)
	add_test(NAME integration.${name}
		COMMAND ${PYTHON3} -m unittest -v ${name}
		WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
	set_tests_properties(integration.${name} PROPERTIES TIMEOUT 300
		LABELS integration
		ENVIRONMENT "XO_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
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
