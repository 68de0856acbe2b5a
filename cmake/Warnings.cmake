# rampart_module(<target>) applies the project's warning and sanitizer flags.
set(RAMPART_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
    -Wno-missing-field-initializers)  # designated initialisers rely on member defaults
if(RAMPART_WERROR)
  list(APPEND RAMPART_WARNINGS -Werror)
endif()

if(RAMPART_FUZZ)
  # Coverage instrumentation everywhere; the fuzz targets add the libFuzzer main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(RAMPART_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(rampart_module target)
  target_compile_options(${target} PRIVATE ${RAMPART_WARNINGS})
endfunction()
