# Turns a file into a C source that holds its bytes, NUL-terminated, so that zkvd serves it
# without reading anything at run time (the status page, actors/www/status.html):
#     cmake -DIN=FILE -DOUT=FILE.c -DNAME=SYMBOL -P embed.cmake
# defines `const char SYMBOL[]` and `const size_t SYMBOL_len` (its length without the NUL).
file (READ "${IN}" hex HEX)
string (LENGTH "${hex}" digits)
math (EXPR len "${digits} / 2")
# Sixteen bytes a line.
string (REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string (REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
string (REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
file (WRITE "${OUT}"
      "// Generated from ${IN} by actors/www/embed.cmake: edit that file, not this one.\n"
      "#include <stddef.h>\n"
      "extern const char ${NAME}[];\n"
      "extern const size_t ${NAME}_len;\n"
      "const char ${NAME}[] = {\n    ${bytes}0};\n"
      "const size_t ${NAME}_len = ${len};\n")
