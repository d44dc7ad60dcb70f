/* tflc -- the command-line converter. Uses only the public API (tflc.h). */
#include <stdio.h>
#include <string.h>

#include "tflc.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tflc %s\n", TFLC_VERSION_STRING);
    return 0;
}
