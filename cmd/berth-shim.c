/* berth-shim: the per-container monitor (and docker-init for --init containers). */
#include "shim/shim.h"

int main(int argc, char **argv)
{
        return berth_shim_main(argc, argv);
}
