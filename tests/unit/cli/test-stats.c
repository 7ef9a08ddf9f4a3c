/* cli/stats.c: docker's stats arithmetic (CPU %, memory without the page cache, I/O sums). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/internal.h"

static const char *f(json_t *row, const char *k)
{
        return json_string_value(json_object_get(row, k));
}

static void test_v2_sample(void **state)
{
        /* 0.5 s of CPU over 2 s of system time on 2 CPUs = 50 % */
        json_t *s = json_loads("{\"id\":\"0123456789abcdef\",\"name\":\"/web\","
                               "\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":1500000000},"
                               "\"system_cpu_usage\":12000000000,\"online_cpus\":2},"
                               "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":1000000000},"
                               "\"system_cpu_usage\":10000000000},"
                               "\"memory_stats\":{\"usage\":20971520,\"limit\":67108864,"
                               "\"stats\":{\"inactive_file\":4194304}},"
                               "\"networks\":{\"eth0\":{\"rx_bytes\":1500,\"tx_bytes\":2500},"
                               "\"eth1\":{\"rx_bytes\":500,\"tx_bytes\":0}},"
                               "\"blkio_stats\":{\"io_service_bytes_recursive\":["
                               "{\"major\":8,\"minor\":0,\"op\":\"read\",\"value\":4096},"
                               "{\"major\":8,\"minor\":0,\"op\":\"write\",\"value\":8192},"
                               "{\"major\":8,\"minor\":16,\"op\":\"Read\",\"value\":4096}]},"
                               "\"pids_stats\":{\"current\":3}}",
                               0, NULL);
        assert_non_null(s);
        json_t *row = stats_row(s, NULL, NULL);
        assert_string_equal(f(row, "ID"), "0123456789ab");
        assert_string_equal(f(row, "Name"), "web");
        assert_string_equal(f(row, "Container"), "0123456789ab");
        assert_string_equal(f(row, "CPUPerc"), "50.00%");
        assert_string_equal(f(row, "MemUsage"), "16MiB / 64MiB"); /* 20 MiB - 4 MiB cache */
        assert_string_equal(f(row, "MemPerc"), "25.00%");
        assert_string_equal(f(row, "NetIO"), "2kB / 2.5kB");
        assert_string_equal(f(row, "BlockIO"), "8.19kB / 8.19kB");
        assert_string_equal(f(row, "PIDs"), "3");
        json_decref(row);
        /* a live view uses its own previous sample, not precpu */
        struct stats_prev prev = {.id = "x", .cpu = 500000000, .sys = 10000000000};
        row = stats_row(s, "web", &prev);
        assert_string_equal(f(row, "CPUPerc"), "100.00%");
        assert_string_equal(f(row, "Container"), "web");
        assert_true(prev.cpu == 1500000000 && prev.sys == 12000000000);
        json_decref(row);
        json_decref(s);
}

static void test_v1_and_empty(void **state)
{
        json_t *s = json_loads("{\"id\":\"ab\",\"name\":\"/x\",\"memory_stats\":{\"usage\":"
                               "10485760,\"limit\":0,\"stats\":{\"total_inactive_file\":"
                               "2097152,\"inactive_file\":1}},\"cpu_stats\":{\"cpu_usage\":{"
                               "\"total_usage\":5,\"percpu_usage\":[1,2,3,4]},"
                               "\"system_cpu_usage\":10}}",
                               0, NULL);
        json_t *row = stats_row(s, NULL, NULL);
        assert_string_equal(f(row, "MemUsage"), "8MiB / 0B"); /* v1: total_inactive_file */
        assert_string_equal(f(row, "MemPerc"), "0.00%");      /* no limit: no percentage */
        /* no precpu: percpu count stands in for online CPUs, 5/10 × 4 = 200 % */
        assert_string_equal(f(row, "CPUPerc"), "200.00%");
        assert_string_equal(f(row, "NetIO"), "0B / 0B");
        assert_string_equal(f(row, "PIDs"), "0");
        json_decref(row);
        json_decref(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_v2_sample),
            cmocka_unit_test(test_v1_and_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
