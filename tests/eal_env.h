// SPDX-License-Identifier: Apache-2.0
// EAL for test binaries: initialised once per process (EAL cannot re-initialise after
// rte_eal_cleanup), with the flags that let several test processes run at once and need
// no hugepages. Use SVCLB_EAL_TEST_MAIN() instead of gtest_main.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>

namespace svclb::test {

inline int eal_test_main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    std::vector<std::string> args{argv[0], "-l", "0", "--no-huge", "-m", "512", "--no-pci",
                                  "--no-shconf", "--no-telemetry", "--log-level=*:warning"};
    std::vector<char*> a;
    for (auto& s : args) a.push_back(s.data());
    if (rte_eal_init(int(a.size()), a.data()) < 0) {
        std::fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    const int rc = RUN_ALL_TESTS();
    rte_eal_cleanup();
    return rc;
}

}  // namespace svclb::test

#define SVCLB_EAL_TEST_MAIN() \
    int main(int argc, char** argv) { return svclb::test::eal_test_main(argc, argv); }
