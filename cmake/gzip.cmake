# xo_gzip(TARGET OUT_VAR FILE...) compresses each FILE (a path, or a name
# under the current source directory) into the current binary directory
# as NAME.gz, in the target TARGET (built by default); OUT_VAR gets the
# .gz paths.  gzip -n, so that the bytes depend on the content alone:
# Debian ships manual pages and changelogs compressed so.
find_program(XO_GZIP gzip REQUIRED)
function(xo_gzip target out_var)
	set(outputs "")
	foreach(f ${ARGN})
		get_filename_component(src ${f} ABSOLUTE)
		get_filename_component(name ${f} NAME)
		set(dst ${CMAKE_CURRENT_BINARY_DIR}/${name}.gz)
		add_custom_command(OUTPUT ${dst}
			COMMAND sh -c "\"$0\" -9nc \"$1\" > \"$2\""
				${XO_GZIP} ${src} ${dst}
			DEPENDS ${src} VERBATIM)
		list(APPEND outputs ${dst})
	endforeach()
	add_custom_target(${target} ALL DEPENDS ${outputs})
	set(${out_var} ${outputs} PARENT_SCOPE)
endfunction()
