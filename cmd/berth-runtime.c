/* berth-runtime: the OCI runtime (runc-compatible command line). */
#include "rtcli/rtcli.h"

int main(int argc, char **argv)
{
        return berth_rtcli_main(argc, argv);
}
