/* berth: docker's command line over the Docker Engine API (src/cli). */
#include "cli/cli.h"

int main(int argc, char **argv)
{
        return cli_main(argc, argv);
}
