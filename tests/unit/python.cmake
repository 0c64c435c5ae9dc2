# The Python package (contrib/python): its unit tests, run by the python3
# the integration tests use.  The codec's are checked against the C codec
# through proto_echo, which decodes frames and encodes them again.
add_executable(proto_echo ${PROJECT_SOURCE_DIR}/tests/common/proto_echo.c
	${PROJECT_SOURCE_DIR}/tests/common/proto_any.c)
target_include_directories(proto_echo PRIVATE
	${PROJECT_SOURCE_DIR}/tests/common)
target_link_libraries(proto_echo PRIVATE xoproto)

find_program(PYTHON3 python3 REQUIRED)
set(XO_PY_SRC ${PROJECT_SOURCE_DIR}/contrib/python)
file(GLOB XO_PYTHON_UNIT_TESTS CONFIGURE_DEPENDS
	${XO_PY_SRC}/tests/test_*.py)
foreach(t ${XO_PYTHON_UNIT_TESTS})
	get_filename_component(name ${t} NAME_WE)
	add_test(NAME unit.python.${name}
		COMMAND ${PYTHON3} -m unittest -v tests.${name}
		WORKING_DIRECTORY ${XO_PY_SRC})
	set_tests_properties(unit.python.${name} PROPERTIES TIMEOUT 120
		LABELS unit
		ENVIRONMENT "XO_PROTO_ECHO=$<TARGET_FILE:proto_echo>;XO_SOURCE_DIR=${PROJECT_SOURCE_DIR};XO_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
endforeach()
