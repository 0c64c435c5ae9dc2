# libFuzzer targets, built only with -DXO_FUZZ=ON and clang.  They are run
# by hand (or by a fuzzing service), never by ctest:
#   build/tests/fuzz_proto -max_total_time=60 corpus/
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
	message(FATAL_ERROR "XO_FUZZ needs clang (CC=clang), not "
		"${CMAKE_C_COMPILER_ID}")
endif()

# The codec's sources are compiled into the target rather than linked from
# xoproto, so that libFuzzer's coverage instrumentation reaches them.
add_executable(fuzz_proto
	${CMAKE_CURRENT_LIST_DIR}/fuzz_proto.c
	${PROJECT_SOURCE_DIR}/tests/common/proto_any.c
	${PROJECT_SOURCE_DIR}/proto/codec.c
	${PROJECT_SOURCE_DIR}/proto/errors.c
	${PROJECT_SOURCE_DIR}/proto/msg_login.c
	${PROJECT_SOURCE_DIR}/proto/msg_add.c
	${PROJECT_SOURCE_DIR}/proto/msg_doctor.c
	${PROJECT_SOURCE_DIR}/proto/msg_vault.c
	${PROJECT_SOURCE_DIR}/proto/msg_send.c)
target_include_directories(fuzz_proto PRIVATE
	${PROJECT_SOURCE_DIR}/tests/common
	${PROJECT_SOURCE_DIR}/proto
	${PROJECT_SOURCE_DIR}/client/include)
# The top-level warning list may name GCC-only options; clang must not
# turn them into errors under XO_WERROR.
target_compile_options(fuzz_proto PRIVATE -fsanitize=fuzzer,address
	-fno-omit-frame-pointer -Wno-unknown-warning-option)
target_link_options(fuzz_proto PRIVATE -fsanitize=fuzzer,address)

# The browser and paste flows' redirect parsing (agent/login/pure/authz.c).
add_executable(fuzz_authz
	${CMAKE_CURRENT_LIST_DIR}/fuzz_authz.c
	${PROJECT_SOURCE_DIR}/agent/login/pure/authz.c
	${PROJECT_SOURCE_DIR}/agent/secret/buf.c)
target_include_directories(fuzz_authz PRIVATE
	${PROJECT_SOURCE_DIR}/agent
	${PROJECT_SOURCE_DIR}/client/include)
target_link_libraries(fuzz_authz PRIVATE PkgConfig::LIBCURL PkgConfig::SODIUM)
target_compile_options(fuzz_authz PRIVATE -fsanitize=fuzzer,address
	-fno-omit-frame-pointer -Wno-unknown-warning-option)
target_link_options(fuzz_authz PRIVATE -fsanitize=fuzzer,address)

# The config parser (agent/config/pure/ with the presets): the file is
# untrusted text.
add_executable(fuzz_config
	${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c
	${PROJECT_SOURCE_DIR}/agent/config/pure/parse.c
	${PROJECT_SOURCE_DIR}/agent/config/pure/values.c
	${PROJECT_SOURCE_DIR}/agent/config/pure/presets.c
	${PROJECT_SOURCE_DIR}/agent/secret/stack.c
	${PROJECT_SOURCE_DIR}/agent/core/log.c)
target_include_directories(fuzz_config PRIVATE
	${PROJECT_SOURCE_DIR}/agent
	${PROJECT_SOURCE_DIR}/client/include)
target_link_libraries(fuzz_config PRIVATE PkgConfig::INIH PkgConfig::SODIUM)
target_compile_options(fuzz_config PRIVATE -fsanitize=fuzzer,address
	-fno-omit-frame-pointer -Wno-unknown-warning-option)
target_link_options(fuzz_config PRIVATE -fsanitize=fuzzer,address)

# The message xoauth sendmail hands the agent: its header block, addresses
# and the copy that goes out (agent/send/pure/message.c).
add_executable(fuzz_message
	${CMAKE_CURRENT_LIST_DIR}/fuzz_message.c
	${PROJECT_SOURCE_DIR}/agent/send/pure/message.c)
target_include_directories(fuzz_message PRIVATE
	${PROJECT_SOURCE_DIR}/agent
	${PROJECT_SOURCE_DIR}/client/include)
target_link_libraries(fuzz_message PRIVATE PkgConfig::JANSSON)
target_compile_options(fuzz_message PRIVATE -fsanitize=fuzzer,address
	-fno-omit-frame-pointer -Wno-unknown-warning-option)
target_link_options(fuzz_message PRIVATE -fsanitize=fuzzer,address)
