// SPDX-License-Identifier: Apache-2.0
// Loader and validator tests: every rule has a test pinning the exact message, file and line.
// The messages are user-facing (Kubernetes v1.31 wording where Kubernetes has the rule), so a
// diff here is a behaviour change, not a test to update. Test data lives in
// tests/unit/testdata, found through $SVCLB_SRC (the source root; default ".").
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "cp/config_loader.h"
#include "cp/validate.h"

namespace svclb::cp {
namespace {

using Strings = std::vector<std::string>;

std::string src(const std::string& rel) {
    const char* root = std::getenv("SVCLB_SRC");
    return std::string(root ? root : ".") + "/" + rel;
}

Strings strs(const Errors& errs) {
    Strings out;
    for (auto& e : errs) out.push_back(e.str());
    return out;
}

// Lines 1-2: a minimal valid appliance and cluster.
const std::string kHead =
    "appliance = { ports = ( { name = \"p0\"; device = \"net_null0\"; "
    "addresses = [ \"198.51.100.1/24\" ]; } ); };\n"
    "cluster = { serviceCIDRs = [ \"10.96.0.0/24\" ]; };\n";

struct Outcome {
    std::optional<Config> cfg;
    Strings load, valid;
    Strings all() const {
        Strings a = load;
        a.insert(a.end(), valid.begin(), valid.end());
        return a;
    }
};

Outcome run(const std::string& text, const Config* previous = nullptr) {
    Outcome r;
    Errors le;
    r.cfg = load_config_string(text, "t.conf", le);
    r.load = strs(le);
    if (r.cfg) r.valid = strs(validate_and_allocate(*r.cfg, previous));
    return r;
}

Strings errors(const std::string& text) { return run(text).all(); }

// kHead, then one service on line 4: { metadata = { <meta> }; spec = { <spec> }; }
std::string one(const std::string& spec, const std::string& meta = "name = \"web\";",
                const std::string& rest = "") {
    return kHead + "services = (\n{ metadata = { " + meta + " }; spec = { " + spec +
           " }; " + rest + "}\n);\n";
}
const std::string kWeb = "t.conf:4: services[0] (default/web): ";

// Services on lines 4, 5, ...; each entry is the full group text.
std::string many(const Strings& services, const std::string& tail = "") {
    std::string t = kHead + "services = (\n";
    for (size_t i = 0; i < services.size(); i++) t += services[i] + (i + 1 < services.size() ? ",\n" : "\n");
    return t + ");\n" + tail;
}
std::string svc(const std::string& name, const std::string& spec) {
    return "{ metadata = { name = \"" + name + "\"; }; spec = { " + spec + " }; }";
}

const Service& find(const Config& c, const std::string& name) {
    for (auto& s : c.services)
        if (s.name == name) return s;
    throw std::runtime_error("no service " + name);
}

// ---- good files ----------------------------------------------------------------------------

TEST(ConfigGood, DemoConfLoadsAndValidates) {
    Errors errs;
    auto cfg = load_config_file(src("config/demo.conf"), errs);
    ASSERT_TRUE(cfg);
    EXPECT_EQ(strs(errs), Strings{});
    EXPECT_EQ(strs(validate_and_allocate(*cfg, nullptr)), Strings{});
    ASSERT_EQ(cfg->services.size(), 1u);
    const Service& web = cfg->services[0];
    EXPECT_EQ(web.key(), "demo/web");
    EXPECT_EQ(web.clusterIPs, (Strings{"198.18.0.10", "2001:db8:ffff::10"})); // dual-stack
    EXPECT_EQ(web.ports[1].protocol, "UDP");
    EXPECT_EQ(web.ports[1].targetPort.num, 5300);
    ASSERT_EQ(cfg->slices.size(), 2u); // one per address family
    EXPECT_EQ(cfg->slices[0].service, "web");
    EXPECT_EQ(cfg->slices[0].endpoints.size(), 3u);
    EXPECT_EQ(cfg->appliance.snatAddresses, (Strings{"198.51.100.2", "2001:db8:100::2"}));
    EXPECT_EQ(cfg->appliance.idleBackoffUs, 200u);
    EXPECT_EQ(cfg->cluster.nodeNames, Strings{"appliance-1"});
}

TEST(ConfigGood, ExampleConfUsesEveryKeyAndValidates) {
    Errors errs;
    auto cfg = load_config_file(src("config/example.conf"), errs);
    ASSERT_TRUE(cfg);
    EXPECT_EQ(strs(errs), Strings{});
    EXPECT_EQ(strs(validate_and_allocate(*cfg, nullptr)), Strings{});
    const Appliance& a = cfg->appliance;
    EXPECT_EQ(a.ports.size(), 2u);
    EXPECT_EQ(a.ports[0].mac, "02:00:5e:00:53:01");
    EXPECT_EQ(a.workerLcores, (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(a.neighbours[0].port, "p0");
    EXPECT_EQ(a.ealArgs, Strings{"--log-level=lib.eal:notice"});
    EXPECT_EQ(a.timeouts.tcpEstablished, 900u);
    const Service& web = find(*cfg, "web");
    EXPECT_EQ(web.labels.at("app.kubernetes.io/name"), "web");
    EXPECT_EQ(web.annotations.at("example.com/owner"), "team-a");
    EXPECT_TRUE(web.has_selector);
    EXPECT_EQ(web.selector.at("app.kubernetes.io/name"), "web");
    EXPECT_TRUE(web.ports[1].targetPort.is_name);
    EXPECT_EQ(web.ports[1].targetPort.name, "dns");
    EXPECT_EQ(web.affinityTimeoutSeconds, 10800);
    const Service& api = find(*cfg, "api");
    EXPECT_EQ(api.clusterIPs, (Strings{"198.18.0.20", "2001:db8:ffff::20"}));
    EXPECT_EQ(api.loadBalancerSourceRanges, (Strings{"203.0.113.0/24", "198.51.100.0/24"}));
    EXPECT_EQ(api.ingress[0].ipMode, "VIP");
    EXPECT_EQ(api.healthCheckNodePort, 32000);
    const Service& metrics = find(*cfg, "metrics");
    EXPECT_EQ(metrics.clusterIP, "198.18.0.1");
    EXPECT_EQ(metrics.ports[0].nodePort, 30000);
    EXPECT_TRUE(find(*cfg, "db").clusterIPs == Strings{"None"});
    EXPECT_TRUE(find(*cfg, "upstream").clusterIPs.empty());
    EXPECT_EQ(cfg->slices[0].endpoints[0].weight, 2u);
    EXPECT_EQ(cfg->slices[0].endpoints[2].conditions.terminating, true);
    EXPECT_FALSE(cfg->slices[0].endpoints[1].conditions.ready.has_value());
}

TEST(ConfigGood, DefaultsWhenKeysAreAbsent) {
    Outcome r = run(one("ports = ( { port = 80; } );"));
    ASSERT_EQ(r.all(), Strings{});
    const Service& s = r.cfg->services[0];
    EXPECT_EQ(s.ns, "default");
    EXPECT_EQ(s.type, "ClusterIP");
    EXPECT_EQ(s.ports[0].protocol, "TCP");
    EXPECT_FALSE(s.ports[0].targetPort.set);
    EXPECT_EQ(s.clusterIPs, Strings{"10.96.0.1"});
    EXPECT_EQ(s.ipFamilies, Strings{"IPv4"});
    EXPECT_EQ(s.ipFamilyPolicy, "SingleStack");
    EXPECT_EQ(r.cfg->appliance.workerLcores, std::vector<uint32_t>{1});
    EXPECT_EQ(r.cfg->cluster.nodePortMin, 30000);
    EXPECT_EQ(r.cfg->cluster.nodePortMax, 32767);
}

TEST(ConfigGood, IncludeReportsTheIncludedFile) {
    Errors errs;
    auto cfg = load_config_file(src("tests/unit/testdata/include_main.conf"), errs);
    ASSERT_TRUE(cfg);
    EXPECT_EQ(strs(errs), Strings{});
    EXPECT_EQ(cfg->cluster.serviceCIDRs, Strings{"198.18.0.0/24"});
    EXPECT_EQ(strs(validate_and_allocate(*cfg, nullptr)),
              Strings{src("tests/unit/testdata/include_services.inc") +
                      ":3: services[0] (default/web): spec.ports[0].protocol: Unsupported value: "
                      "\"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""});
}

// ---- loader: syntax, types, unknown keys ---------------------------------------------------

TEST(ConfigLoad, SyntaxErrorReportsFileAndLine) {
    Errors errs;
    EXPECT_FALSE(load_config_string("appliance = {\n  ports = (\n  flowTableSize = 1;\n};\n",
                                    "t.conf", errs));
    EXPECT_EQ(strs(errs), Strings{"t.conf:3: syntax error"});
}

TEST(ConfigLoad, SyntaxErrorInFile) {
    Errors errs;
    const std::string path = src("tests/unit/testdata/syntax_error.conf");
    EXPECT_FALSE(load_config_file(path, errs));
    EXPECT_EQ(strs(errs), Strings{path + ":6: syntax error"});
}

TEST(ConfigLoad, DuplicateSettingIsASyntaxError) {
    Errors errs;
    EXPECT_FALSE(load_config_string("cluster = {\n nodeNames = [];\n nodeNames = [];\n};\n",
                                    "t.conf", errs));
    EXPECT_EQ(strs(errs), Strings{"t.conf:3: duplicate setting name"});
}

TEST(ConfigLoad, MissingFile) {
    Errors errs;
    EXPECT_FALSE(load_config_file("/nonexistent/svclb.conf", errs));
    EXPECT_EQ(strs(errs), Strings{"/nonexistent/svclb.conf: No such file or directory"});
}

TEST(ConfigLoad, UnknownFieldsEverywhere) {
    Outcome r = run(kHead +
                "servics = ();\n"
                "services = (\n"
                "{ metadata = { name = \"web\"; uid = \"1\"; }; spec = { ports = (\n"
                "  { port = 80; nodeport = 30000; } ); typ = \"NodePort\"; }; extra = 1; }\n"
                ");\n");
    EXPECT_EQ(r.load, (Strings{
                          "t.conf:3: servics: unknown field \"servics\"",
                          "t.conf:6: services[0] (default/web): extra: unknown field \"extra\"",
                          "t.conf:5: services[0] (default/web): metadata.uid: unknown field \"uid\"",
                          "t.conf:6: services[0] (default/web): spec.typ: unknown field \"typ\"",
                          "t.conf:6: services[0] (default/web): spec.ports[0].nodeport: unknown "
                          "field \"nodeport\"",
                      }));
}

TEST(ConfigLoad, UnknownFieldInAppliance) {
    Outcome r = run("appliance = {\n  ports = ( { name = \"p0\"; device = \"d\"; dev = \"x\"; } );\n"
                "  timeouts = { tcp = 5; };\n  flowtable = 1;\n};\n");
    EXPECT_EQ(r.load, (Strings{
                          "t.conf:4: appliance.flowtable: unknown field \"flowtable\"",
                          "t.conf:2: appliance.ports[0].dev: unknown field \"dev\"",
                          "t.conf:3: appliance.timeouts.tcp: unknown field \"tcp\"",
                      }));
}

TEST(ConfigLoad, IntegerGivenAsString) {
    EXPECT_EQ(errors(one("ports = ( { port = \"80\"; } );")),
              (Strings{kWeb + "spec.ports[0].port: Invalid value: \"80\": must be an integer",
                       kWeb + "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, "
                              "inclusive"}));
}

TEST(ConfigLoad, WrongScalarTypes) {
    Outcome r = run(one("ports = ( { port = 80; name = 5; nodePort = 1.5; } ); "
                    "publishNotReadyAddresses = \"yes\"; externalIPs = \"1.2.3.4\"; "
                    "sessionAffinityConfig = [ 1 ];"));
    EXPECT_EQ(r.load, (Strings{
                          kWeb + "spec.ports[0].name: Invalid value: 5: must be a string",
                          kWeb + "spec.ports[0].nodePort: Invalid value: 1.5: must be an integer",
                          kWeb + "spec.externalIPs: Invalid value: \"1.2.3.4\": must be an array "
                                 "of strings ([ \"...\", ... ])",
                          kWeb + "spec.sessionAffinityConfig: Invalid value: [...]: must be a "
                                 "group ({ ... })",
                          kWeb + "spec.publishNotReadyAddresses: Invalid value: \"yes\": must be "
                                 "a boolean (true or false)",
                      }));
}

TEST(ConfigLoad, IntegerOutOfRangeForTheField) {
    Outcome r = run("appliance = { flowTableSize = -1; mtu = 1; };\n");
    EXPECT_EQ(r.load, (Strings{
                          "t.conf:1: appliance.mtu: unknown field \"mtu\"",
                          "t.conf:1: appliance.flowTableSize: Invalid value: -1: must be between "
                          "0 and 4294967295, inclusive",
                      }));
}

TEST(ConfigLoad, ArrayElementOfWrongType) {
    Outcome r = run("cluster = { nodeNames = ( \"a\", 5, \"b\" ); };\n");
    EXPECT_EQ(r.load,
              Strings{"t.conf:1: cluster.nodeNames[1]: Invalid value: 5: must be a string"});
    EXPECT_EQ(r.cfg->cluster.nodeNames, (Strings{"a", "b"}));
}

TEST(ConfigLoad, ServiceNeedsMetadataAndSpec) {
    Outcome r = run(kHead + "services = (\n{ spec = { ports = ( { port = 80; } ); }; },\n"
                        "{ metadata = { name = \"b\"; }; },\n5\n);\n");
    EXPECT_EQ(r.load, (Strings{
                          "t.conf:4: services[0]: metadata: Required value",
                          "t.conf:5: services[1] (default/b): spec: Required value",
                          "t.conf:6: services[2]: Invalid value: 5: must be a group ({ ... })",
                      }));
}

TEST(ConfigLoad, TargetPortIsIntegerOrName) {
    Outcome r = run(one("ports = ( { name = \"a\"; port = 80; targetPort = 8080; },"
                    " { name = \"b\"; port = 81; targetPort = \"http\"; },"
                    " { name = \"c\"; port = 82; targetPort = true; } );"));
    EXPECT_EQ(r.load, Strings{kWeb + "spec.ports[2].targetPort: Invalid value: true: must be an "
                                     "integer or a string"});
    const auto& p = r.cfg->services[0].ports;
    EXPECT_TRUE(p[0].targetPort.set && !p[0].targetPort.is_name && p[0].targetPort.num == 8080);
    EXPECT_TRUE(p[1].targetPort.set && p[1].targetPort.is_name && p[1].targetPort.name == "http");
}

TEST(ConfigLoad, SelectorAndAnnotationSpellings) {
    Outcome r = run(one("selector = [ \"app.kubernetes.io/name=web\", \"tier=front\" ]; "
                    "ports = ( { port = 80; } );",
                    "name = \"web\"; labels = { app = \"web\"; }; "
                    "annotations = [ \"example.com/note=x=y\" ];"));
    ASSERT_EQ(r.all(), Strings{});
    const Service& s = r.cfg->services[0];
    EXPECT_EQ(s.selector.at("app.kubernetes.io/name"), "web");
    EXPECT_EQ(s.selector.at("tier"), "front");
    EXPECT_EQ(s.labels.at("app"), "web");
    EXPECT_EQ(s.annotations.at("example.com/note"), "x=y");  // split at the first '='

    EXPECT_TRUE(s.has_selector);
}

TEST(ConfigLoad, SelectorMalformed) {
    EXPECT_EQ(run(one("selector = [ \"app\", \"a=1\", \"a=2\" ]; ports = ( { port = 80; } );")).load,
              (Strings{kWeb + "spec.selector[0]: Invalid value: \"app\": must be \"key=value\"",
                       kWeb + "spec.selector[2]: Duplicate value: \"a\""}));
    EXPECT_EQ(run(one("selector = { app = 1; }; ports = ( { port = 80; } );")).load,
              Strings{kWeb + "spec.selector.app: Invalid value: 1: must be a string"});
}

TEST(ConfigLoad, ServiceCidrSingularAndPlural) {
    Outcome r = run("cluster = { serviceCIDR = \"10.0.0.0/16\"; };\n");
    EXPECT_EQ(r.cfg->cluster.serviceCIDRs, Strings{"10.0.0.0/16"});
    r = run("cluster = { serviceCIDRs = [ \"10.0.0.0/16\" ];\n serviceCIDR = \"10.1.0.0/16\"; };\n");
    EXPECT_EQ(r.load, Strings{"t.conf:2: cluster.serviceCIDR: Forbidden: may not be set together "
                              "with serviceCIDRs"});
}

TEST(ConfigLoad, NodePortRangeShape) {
    Outcome r = run("cluster = { nodePortRange = \"30000:32767\"; };\n");
    EXPECT_EQ(r.load, Strings{"t.conf:1: cluster.nodePortRange: Invalid value: \"30000:32767\": "
                              "must be a port range \"first-last\" (e.g. \"30000-32767\")"});
    r = run("cluster = { nodePortRange = \"20000-20100\"; };\n");
    EXPECT_EQ(r.cfg->cluster.nodePortMin, 20000);
    EXPECT_EQ(r.cfg->cluster.nodePortMax, 20100);
}

TEST(ConfigLoad, SliceServiceFromLabel) {
    Outcome r = run(one("ports = ( { port = 80; } );") +
                "endpointSlices = ( { metadata = { name = \"s\"; "
                "labels = [ \"kubernetes.io/service-name=web\" ]; }; "
                "endpoints = ( { addresses = [ \"192.0.2.1\" ]; } ); } );\n");
    ASSERT_EQ(r.all(), Strings{});
    EXPECT_EQ(r.cfg->slices[0].service, "web");
    EXPECT_EQ(r.cfg->slices[0].addressType, "IPv4");
}

TEST(ConfigLoad, SourceLinesOfObjects) {
    Outcome r = run(kHead + "services = (\n  { metadata = { name = \"web\"; };\n    spec = {\n"
                        "      ports = (\n        { port = 80; },\n        { port = 81; }\n"
                        "      );\n    };\n  }\n);\n");
    const Service& s = r.cfg->services[0];
    EXPECT_EQ(s.loc.file, "t.conf");
    EXPECT_EQ(s.loc.line, 4);
    EXPECT_EQ(s.ports[0].loc.line, 7);
    EXPECT_EQ(s.ports[1].loc.line, 8);
    EXPECT_EQ(r.valid, (Strings{"t.conf:7: services[0] (default/web): spec.ports[0].name: "
                                "Required value",
                                "t.conf:8: services[0] (default/web): spec.ports[1].name: "
                                "Required value"}));
}

TEST(ConfigLoad, LoadingContinuesAfterErrorsAndAllAreReported) {
    Errors errs;
    const std::string path = src("tests/unit/testdata/many_errors.conf");
    auto cfg = load_config_file(path, errs);
    ASSERT_TRUE(cfg);
    Errors v = validate_and_allocate(*cfg, nullptr);
    errs.insert(errs.end(), v.begin(), v.end());
    const std::string f = path + ":";
    EXPECT_EQ(strs(errs),
              (Strings{
                  f + "5: appliance.flowTableSize: Invalid value: \"big\": must be an integer",
                  f + "15: services[0] (default/web): spec.colour: unknown field \"colour\"",
                  f + "3: appliance.ports[0].addresses[0]: Invalid value: \"198.51.100.1\": must "
                      "be an address with its prefix length, (e.g. 198.51.100.1/24 or "
                      "2001:db8::1/64)",
                  f + "2: appliance.lcores.workers[0]: Invalid value: 1: may not be the main "
                      "lcore",
                  f + "11: services[0] (default/web): spec.clusterIPs: Invalid value: "
                      "[\"198.19.0.1\"]: failed to allocate IP 198.19.0.1: the provided IP "
                      "(198.19.0.1) is not in the valid range. The range of valid IPs is "
                      "198.18.0.0/24",
                  f + "14: services[0] (default/web): spec.ports[0].port: Invalid value: 70000: "
                      "must be between 1 and 65535, inclusive",
                  f + "18: services[1] (default/web): metadata.name: Duplicate value: \"web\"",
                  f + "19: services[1] (default/web): spec.ports[0].nodePort: Invalid value: "
                      "40000: provided port is not in the valid range. The range of valid ports "
                      "is 30000-32767",
                  f + "25: endpointSlices[0] (default/web-1): endpoints[0].addresses[0]: Invalid "
                      "value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, "
                      "::1/128)",
                  f + "25: endpointSlices[0] (default/web-1): endpoints[0].weight: Invalid value: "
                      "100000: must be between 0 and 65535, inclusive",
              }));
}

// ---- services: metadata and type ----------------------------------------------------------

TEST(ServiceValidation, NameMustBeDns1035Label) {
    EXPECT_EQ(errors(one("ports = ( { port = 80; } );", "name = \"Web\";")),
              Strings{"t.conf:4: services[0] (default/Web): metadata.name: Invalid value: \"Web\": "
                      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                      "start with an alphabetic character, and end with an alphanumeric character "
                      "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                      "'[a-z]([-a-z0-9]*[a-z0-9])?')"});
    EXPECT_EQ(errors(one("ports = ( { port = 80; } );", "namespace = \"x\";")),
              Strings{"t.conf:4: services[0]: metadata.name: Required value: name or "
                      "generateName is required"});
}

TEST(ServiceValidation, NamespaceMustBeDns1123Label) {
    EXPECT_EQ(errors(one("ports = ( { port = 80; } );", "name = \"web\"; namespace = \"a.b\";")),
              Strings{"t.conf:4: services[0] (a.b/web): metadata.namespace: Invalid value: "
                      "\"a.b\": must not contain dots"});
}

TEST(ServiceValidation, DuplicateNamespaceAndName) {
    EXPECT_EQ(errors(many({svc("web", "ports = ( { port = 80; } );"),
                           svc("web", "ports = ( { port = 81; } );"),
                           "{ metadata = { name = \"web\"; namespace = \"other\"; }; "
                           "spec = { ports = ( { port = 80; } ); }; }"})),
              Strings{"t.conf:5: services[1] (default/web): metadata.name: Duplicate value: "
                      "\"web\""});
}

TEST(ServiceValidation, TypeMustBeSupported) {
    EXPECT_EQ(errors(one("type = \"Foo\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.type: Unsupported value: \"Foo\": supported values: "
                             "\"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""});
}

TEST(ServiceValidation, PortsRequiredUnlessHeadlessOrExternalName) {
    EXPECT_EQ(errors(one("type = \"NodePort\";")), Strings{kWeb + "spec.ports: Required value"});
    EXPECT_EQ(errors(one("clusterIP = \"None\";")), Strings{});
    EXPECT_EQ(errors(one("type = \"ExternalName\"; externalName = \"db.example.com.\";")),
              Strings{});
}

// ---- services: ports ----------------------------------------------------------------------

TEST(ServiceValidation, PortNameRequiredWhenSeveral) {
    EXPECT_EQ(errors(one("ports = ( { name = \"a\"; port = 80; }, { port = 81; } );")),
              Strings{kWeb + "spec.ports[1].name: Required value"});
}

TEST(ServiceValidation, PortNameShape) {
    EXPECT_EQ(errors(one("ports = ( { name = \"123_abc\"; port = 80; } );")),
              Strings{kWeb + "spec.ports[0].name: Invalid value: \"123_abc\": a lowercase RFC 1123 "
                             "label must consist of lower case alphanumeric characters or '-', and "
                             "must start and end with an alphanumeric character (e.g. 'my-name',  "
                             "or '123-abc', regex used for validation is "
                             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"});
    EXPECT_EQ(errors(one("ports = ( { name = \"123-abc\"; port = 80; } );")), Strings{});
}

TEST(ServiceValidation, PortNameUnique) {
    EXPECT_EQ(errors(one("ports = ( { name = \"http\"; port = 80; }, "
                         "{ name = \"http\"; port = 81; } );")),
              Strings{kWeb + "spec.ports[1].name: Duplicate value: \"http\""});
}

TEST(ServiceValidation, ProtocolMustBeSupported) {
    EXPECT_EQ(errors(one("ports = ( { port = 80; protocol = \"ICMP\"; } );")),
              Strings{kWeb + "spec.ports[0].protocol: Unsupported value: \"ICMP\": supported "
                             "values: \"SCTP\", \"TCP\", \"UDP\""});
}

TEST(ServiceValidation, PortRange) {
    EXPECT_EQ(errors(one("ports = ( { name = \"a\"; port = 0; }, { name = \"b\"; port = 65536; }, "
                         "{ name = \"c\"; port = 65535; } );")),
              (Strings{kWeb + "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, "
                              "inclusive",
                       kWeb + "spec.ports[1].port: Invalid value: 65536: must be between 1 and "
                              "65535, inclusive"}));
}

TEST(ServiceValidation, DuplicateProtocolAndPort) {
    EXPECT_EQ(errors(one("ports = ( { name = \"a\"; port = 80; }, { name = \"b\"; port = 80; }, "
                         "{ name = \"c\"; port = 80; protocol = \"UDP\"; } );")),
              Strings{kWeb + "spec.ports[1]: Duplicate value: \"TCP/80\""});
}

TEST(ServiceValidation, TargetPortNumberOrServiceName) {
    EXPECT_EQ(errors(one("ports = ( { name = \"a\"; port = 80; targetPort = 70000; }, "
                         "{ name = \"b\"; port = 81; targetPort = \"-Http-\"; }, "
                         "{ name = \"c\"; port = 82; targetPort = \"1234\"; }, "
                         "{ name = \"d\"; port = 83; targetPort = \"metrics\"; } );")),
              (Strings{kWeb + "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 "
                              "and 65535, inclusive",
                       kWeb + "spec.ports[1].targetPort: Invalid value: \"-Http-\": must contain "
                              "only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                       kWeb + "spec.ports[1].targetPort: Invalid value: \"-Http-\": must not "
                              "begin or end with a hyphen",
                       kWeb + "spec.ports[2].targetPort: Invalid value: \"1234\": must contain at "
                              "least one letter (a-z)"}));
}

TEST(ServiceValidation, NodePortForbiddenOnClusterIP) {
    EXPECT_EQ(errors(one("ports = ( { port = 80; nodePort = 30080; } );")),
              Strings{kWeb + "spec.ports[0].nodePort: Forbidden: may not be used when `type` is "
                             "'ClusterIP'"});
}

TEST(ServiceValidation, NoneClusterIPOnNodePortAndLoadBalancer) {
    EXPECT_EQ(errors(one("type = \"NodePort\"; clusterIP = \"None\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to "
                             "'None' for NodePort services"});
    EXPECT_EQ(errors(one("type = \"LoadBalancer\"; clusterIP = \"None\"; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to "
                             "'None' for LoadBalancer services"});
}

// ---- services: the other spec fields ------------------------------------------------------

TEST(ServiceValidation, SessionAffinityValues) {
    EXPECT_EQ(errors(one("sessionAffinity = \"Cookie\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.sessionAffinity: Unsupported value: \"Cookie\": supported "
                             "values: \"ClientIP\", \"None\""});
    EXPECT_EQ(errors(one("sessionAffinityConfig = { clientIP = { timeoutSeconds = 5; }; }; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.sessionAffinityConfig: Forbidden: must not be set when session "
                             "affinity is None"});
}

TEST(ServiceValidation, AffinityTimeoutBounds) {
    auto with = [](const std::string& t) {
        return one("sessionAffinity = \"ClientIP\"; sessionAffinityConfig = { clientIP = { "
                   "timeoutSeconds = " + t + "; }; }; ports = ( { port = 80; } );");
    };
    const std::string msg = "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: ";
    EXPECT_EQ(errors(with("0")),
              Strings{kWeb + msg + "0: must be greater than 0 and less than 86400"});
    EXPECT_EQ(errors(with("86401")),
              Strings{kWeb + msg + "86401: must be greater than 0 and less than 86400"});
    EXPECT_EQ(errors(with("86400")), Strings{});
    Outcome r = run(one("sessionAffinity = \"ClientIP\"; ports = ( { port = 80; } );"));
    EXPECT_EQ(r.all(), Strings{});
    EXPECT_EQ(r.cfg->services[0].affinityTimeoutSeconds, 10800);
}

TEST(ServiceValidation, TrafficPolicies) {
    EXPECT_EQ(errors(one("type = \"NodePort\"; externalTrafficPolicy = \"Nearest\"; "
                         "internalTrafficPolicy = \"Far\"; ports = ( { port = 80; } );")),
              (Strings{kWeb + "spec.externalTrafficPolicy: Unsupported value: \"Nearest\": "
                              "supported values: \"Cluster\", \"Local\"",
                       kWeb + "spec.internalTrafficPolicy: Unsupported value: \"Far\": supported "
                              "values: \"Cluster\", \"Local\""}));
    EXPECT_EQ(errors(one("externalTrafficPolicy = \"Local\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be "
                             "set for externally-accessible services"});
    EXPECT_EQ(errors(one("externalTrafficPolicy = \"Local\"; externalIPs = [ \"192.0.2.7\" ]; "
                         "internalTrafficPolicy = \"Local\"; ports = ( { port = 80; } );")),
              Strings{});
}

TEST(ServiceValidation, SourceRangesOnlyOnLoadBalancerAndTrimmed) {
    EXPECT_EQ(errors(one("loadBalancerSourceRanges = [ \"10.0.0.0/8\" ]; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.loadBalancerSourceRanges: Forbidden: may only be used when "
                             "`type` is 'LoadBalancer'"});
    // v1.31: one error for the list, printed as Go's %v, Kubernetes' message (trailing space
    // included).
    Outcome r = run(one("type = \"LoadBalancer\"; loadBalancerSourceRanges = [ \" 10.0.0.0/8 \", "
                    "\"10.1.0.0/33\" ]; ports = ( { port = 80; } );"));
    EXPECT_EQ(r.all(), Strings{kWeb + "spec.loadBalancerSourceRanges: Invalid value: "
                                      "\"[ 10.0.0.0/8  10.1.0.0/33]\": must be a list of IP ranges. For example, "
                                      "10.240.0.0/24,10.250.0.0/24 "});
    EXPECT_EQ(r.cfg->services[0].loadBalancerSourceRanges[0], "10.0.0.0/8");
}

TEST(ServiceValidation, SourceRangesAnnotation) {
    EXPECT_EQ(errors(one("ports = ( { port = 80; } );",
                         "name = \"web\"; annotations = [ \"service.beta.kubernetes.io/"
                         "load-balancer-source-ranges=10.0.0.0/8, x\" ];")),
              (Strings{kWeb + "metadata.annotations[service.beta.kubernetes.io/load-balancer-"
                              "source-ranges]: Forbidden: may only be used when `type` is "
                              "'LoadBalancer'",
                       kWeb + "metadata.annotations[service.beta.kubernetes.io/load-balancer-"
                              "source-ranges]: Invalid value: \"10.0.0.0/8, x\": must be a list of IP ranges. "
                              "For example, 10.240.0.0/24,10.250.0.0/24 "}));
}

// svclb's drain timeout annotation: whole seconds, 0-86400.
TEST(ServiceValidation, DrainTimeoutAnnotation) {
    EXPECT_EQ(errors(one("ports = ( { port = 80; } );",
                         "name = \"web\"; annotations = [ \"svclb.io/drain-timeout-seconds=120\" ];")),
              Strings{});
    EXPECT_EQ(errors(one("ports = ( { port = 80; } );",
                         "name = \"web\"; annotations = [ \"svclb.io/drain-timeout-seconds=1m\" ];")),
              Strings{kWeb + "metadata.annotations[svclb.io/drain-timeout-seconds]: Invalid value: \"1m\": must be "
                             "a whole number of seconds between 0 and 86400"});
}

TEST(ServiceValidation, ExternalIPsNotSpecial) {
    const std::string p = kWeb + "spec.externalIPs[";
    EXPECT_EQ(errors(one("externalIPs = [ \"127.0.0.1\", \"fe80::1\", \"ff02::2\", \"::\", "
                         "\"1.2.3\", \"192.0.2.1\" ]; ports = ( { port = 80; } );")),
              (Strings{p + "0]: Invalid value: \"127.0.0.1\": may not be in the loopback range "
                           "(127.0.0.0/8, ::1/128)",
                       p + "1]: Invalid value: \"fe80::1\": may not be in the link-local range "
                           "(169.254.0.0/16, fe80::/10)",
                       p + "2]: Invalid value: \"ff02::2\": may not be in the link-local "
                           "multicast range (224.0.0.0/24, ff02::/10)",
                       p + "3]: Invalid value: \"::\": may not be unspecified (::)",
                       p + "4]: Invalid value: \"1.2.3\": must be a valid IP address, (e.g. "
                           "10.9.8.7 or 2001:db8::ffff)"}));
}

TEST(ServiceValidation, ExternalNameRules) {
    EXPECT_EQ(errors(one("type = \"ExternalName\";")),
              Strings{kWeb + "spec.externalName: Required value"});
    EXPECT_EQ(errors(one("type = \"ExternalName\"; externalName = \"Db_1\"; "
                         "clusterIP = \"10.96.0.5\";")),
              (Strings{kWeb + "spec.clusterIPs: Forbidden: may not be set for ExternalName "
                              "services",
                       kWeb + "spec.externalName: Invalid value: \"Db_1\": a lowercase RFC 1123 "
                              "subdomain must consist of lower case alphanumeric characters, '-' "
                              "or '.', and must start and end with an alphanumeric character "
                              "(e.g. 'example.com', regex used for validation is "
                              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"}));
}

TEST(ServiceValidation, TrafficDistributionValues) {
    EXPECT_EQ(errors(one("trafficDistribution = \"Anywhere\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.trafficDistribution: Unsupported value: \"Anywhere\": "
                             "supported values: \"PreferClose\""});
}

TEST(ServiceValidation, LoadBalancerOnlyFields) {
    EXPECT_EQ(errors(one("loadBalancerClass = \"svclb.io/lb\"; allocateLoadBalancerNodePorts = "
                         "false; ports = ( { port = 80; } );")),
              (Strings{kWeb + "spec.loadBalancerClass: Forbidden: may only be used when service "
                              "type is 'LoadBalancer'",
                       kWeb + "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used "
                              "when `type` is 'LoadBalancer'"}));
}

TEST(ServiceValidation, IngressStatus) {
    const std::string ing = kWeb + "status.loadBalancer.ingress[";
    EXPECT_EQ(errors(one("type = \"LoadBalancer\"; ports = ( { port = 80; } );", "name = \"web\";",
                         "status = { loadBalancer = { ingress = ( { ip = \"203.0.113.300\"; }, "
                         "{ ip = \"203.0.113.5\"; ipMode = \"Direct\"; }, "
                         "{ hostname = \"lb.example.com\"; ipMode = \"VIP\"; } ); }; }; ")),
              (Strings{ing + "0].ip: Invalid value: \"203.0.113.300\": must be a valid IP "
                             "address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                       ing + "1].ipMode: Unsupported value: \"Direct\": supported values: "
                             "\"Proxy\", \"VIP\"",
                       ing + "2].ipMode: Forbidden: may not be specified when `ip` is not set"}));
    EXPECT_EQ(errors(one("ports = ( { port = 80; } );", "name = \"web\";",
                         "status = { loadBalancer = { ingress = ( { ip = \"203.0.113.5\"; } ); }; "
                         "}; ")),
              Strings{kWeb + "status.loadBalancer.ingress: Forbidden: may only be used when "
                             "`spec.type` is 'LoadBalancer'"});
}

TEST(ServiceValidation, ClusterIPsConsistency) {
    EXPECT_EQ(errors(one("clusterIP = \"10.96.0.5\"; clusterIPs = [ \"10.96.0.6\" ]; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs: Invalid value: [\"10.96.0.6\"]: first value must "
                             "match `clusterIP`"});
    EXPECT_EQ(errors(one("clusterIP = \"bogus\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs[0]: Invalid value: \"bogus\": must be a valid IP "
                             "address, (e.g. 10.9.8.7 or 2001:db8::ffff)"});
    EXPECT_EQ(errors(one("clusterIPs = [ \"10.96.0.5\", \"10.96.0.6\" ]; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs: Invalid value: [\"10.96.0.5\", \"10.96.0.6\"]: may "
                             "specify no more than one IP for each IP family"});
    EXPECT_EQ(errors(one("clusterIP = \"10.96.0.5\"; ipFamilies = [ \"IPv6\" ]; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs[0]: Invalid value: \"10.96.0.5\": expected an IPv6 "
                             "value as indicated by `ipFamilies[0]`"});
    EXPECT_EQ(errors(one("clusterIP = \"None\"; clusterIPs = [ \"None\", \"10.96.0.6\" ]; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs: Invalid value: [\"None\", \"10.96.0.6\"]: 'None' must be the "
                             "first and only value"});
}

TEST(ServiceValidation, HealthCheckNodePort) {
    EXPECT_EQ(errors(one("type = \"NodePort\"; healthCheckNodePort = 30500; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.healthCheckNodePort: Invalid value: 30500: may only be set when "
                             "`type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"});
    Outcome r = run(one("type = \"LoadBalancer\"; externalTrafficPolicy = \"Local\"; "
                    "ports = ( { port = 80; } );"));
    ASSERT_EQ(r.all(), Strings{});
    EXPECT_EQ(r.cfg->services[0].ports[0].nodePort, 30000);
    EXPECT_EQ(r.cfg->services[0].healthCheckNodePort, 30001);
    EXPECT_EQ(errors(one("type = \"LoadBalancer\"; externalTrafficPolicy = \"Local\"; "
                         "healthCheckNodePort = 30080; ports = ( { port = 80; nodePort = 30080; "
                         "} );")),
              Strings{kWeb + "spec.healthCheckNodePort: Invalid value: 30080: failed to allocate "
                             "requested HealthCheck NodePort 30080: provided port is already "
                             "allocated"});
}

TEST(ServiceValidation, SelectorKeysAreQualifiedNames) {
    EXPECT_EQ(errors(one("selector = [ \"-app=web\" ]; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.selector: Invalid value: \"-app\": name part must consist of "
                             "alphanumeric characters, '-', '_' or '.', and must start and end "
                             "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                             "'123-abc', regex used for validation is "
                             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"});
}

// ---- allocation ---------------------------------------------------------------------------

TEST(Allocation, ClusterIPNotInRange) {
    EXPECT_EQ(errors(one("clusterIP = \"10.97.0.1\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs: Invalid value: [\"10.97.0.1\"]: failed to allocate "
                             "IP 10.97.0.1: the provided IP (10.97.0.1) is not in the valid range. "
                             "The range of valid IPs is 10.96.0.0/24"});
}

TEST(Allocation, NetworkAndBroadcastAreNotAllocatable) {
    const std::string msg = ": the provided IP (";
    Strings e = errors(many({svc("a", "clusterIP = \"10.96.0.0\"; ports = ( { port = 80; } );"),
                             svc("b", "clusterIP = \"10.96.0.255\"; ports = ( { port = 80; } );"),
                             svc("c", "clusterIP = \"10.96.0.254\"; ports = ( { port = 80; } );")}));
    EXPECT_EQ(e, (Strings{"t.conf:4: services[0] (default/a): spec.clusterIPs: Invalid value: "
                          "[\"10.96.0.0\"]: failed to allocate IP 10.96.0.0: the provided IP "
                          "(10.96.0.0) is not in the valid range. The range of valid IPs is "
                          "10.96.0.0/24",
                          "t.conf:5: services[1] (default/b): spec.clusterIPs: Invalid value: "
                          "[\"10.96.0.255\"]: failed to allocate IP 10.96.0.255: the provided IP "
                          "(10.96.0.255) is not in the valid range. The range of valid IPs is "
                          "10.96.0.0/24"}));
}

TEST(Allocation, ClusterIPAlreadyAllocated) {
    EXPECT_EQ(errors(many({svc("a", "clusterIP = \"10.96.0.10\"; ports = ( { port = 80; } );"),
                           svc("b", "clusterIP = \"10.96.0.10\"; ports = ( { port = 80; } );")})),
              Strings{"t.conf:5: services[1] (default/b): spec.clusterIPs: Invalid value: "
                      "[\"10.96.0.10\"]: failed to allocate IP 10.96.0.10: provided IP is already "
                      "allocated"});
}

TEST(Allocation, LeadingZerosReadAsDecimal) {
    // 10.96.0.010 is 10.96.0.10 (not octal 8), so it collides with the first service.
    EXPECT_EQ(errors(many({svc("a", "clusterIP = \"10.96.0.10\"; ports = ( { port = 80; } );"),
                           svc("b", "clusterIP = \"10.96.0.010\"; ports = ( { port = 80; } );")})),
              Strings{"t.conf:5: services[1] (default/b): spec.clusterIPs: Invalid value: "
                      "[\"10.96.0.010\"]: failed to allocate IP 10.96.0.10: provided IP is "
                      "already allocated"});
}

TEST(Allocation, LowestFreeAfterExplicitRequests) {
    Outcome r = run(many({svc("a", "ports = ( { port = 80; } );"),
                      svc("b", "clusterIP = \"10.96.0.1\"; ports = ( { port = 80; } );"),
                      svc("c", "ports = ( { port = 80; } );")}));
    ASSERT_EQ(r.all(), Strings{});
    EXPECT_EQ(find(*r.cfg, "a").clusterIP, "10.96.0.2");
    EXPECT_EQ(find(*r.cfg, "b").clusterIP, "10.96.0.1");
    EXPECT_EQ(find(*r.cfg, "c").clusterIP, "10.96.0.3");
}

TEST(Allocation, Deterministic) {
    const std::string text = many({svc("a", "type = \"NodePort\"; ports = ( { port = 80; } );"),
                                   svc("b", "type = \"LoadBalancer\"; ports = ( { port = 443; } );"),
                                   svc("c", "ports = ( { port = 80; } );")});
    Outcome r1 = run(text), r2 = run(text);
    ASSERT_EQ(r1.all(), Strings{});
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ(r1.cfg->services[i].clusterIPs, r2.cfg->services[i].clusterIPs);
        EXPECT_EQ(r1.cfg->services[i].ports[0].nodePort, r2.cfg->services[i].ports[0].nodePort);
    }
    EXPECT_EQ(r1.cfg->services[0].ports[0].nodePort, 30000);
    EXPECT_EQ(r1.cfg->services[1].ports[0].nodePort, 30001);
    EXPECT_EQ(r1.cfg->services[2].clusterIP, "10.96.0.3");
}

TEST(Allocation, AvoidsEndpointAddresses) {
    Outcome r = run(one("ports = ( { port = 80; } );") +
                "endpointSlices = ( { metadata = { name = \"s\"; }; service = \"web\"; "
                "endpoints = ( { addresses = [ \"10.96.0.1\" ]; } ); } );\n");
    ASSERT_EQ(r.all(), Strings{});
    EXPECT_EQ(r.cfg->services[0].clusterIP, "10.96.0.2");
}

TEST(Allocation, RangeFull) {
    Outcome r = run("cluster = { serviceCIDR = \"10.96.0.0/30\"; };\n" +
                many({svc("a", "ports = ( { port = 80; } );"), svc("b", "ports = ( { port = 80; } );"),
                      svc("c", "ports = ( { port = 80; } );")}).substr(kHead.size()));
    EXPECT_EQ(r.valid, (Strings{"t.conf:0: appliance.ports: Required value: at least one port is "
                                "required",
                                "t.conf:5: services[2] (default/c): spec.clusterIPs: Internal "
                                "error: failed to allocate a serviceIP: range is full"}));
}

TEST(Allocation, PreviousAllocationsAreKept) {
    Outcome before = run(many({svc("a", "type = \"NodePort\"; ports = ( { name = \"http\"; port = 80; } );"),
                           svc("b", "ports = ( { port = 80; } );")}));
    ASSERT_EQ(before.all(), Strings{});
    EXPECT_EQ(find(*before.cfg, "a").clusterIP, "10.96.0.1");
    EXPECT_EQ(find(*before.cfg, "b").clusterIP, "10.96.0.2");
    // A new service first in the file, and `a` gains a port: nothing is renumbered.
    Outcome after = run(many({svc("new", "type = \"NodePort\"; ports = ( { port = 80; } );"),
                          svc("b", "ports = ( { port = 80; } );"),
                          svc("a", "type = \"NodePort\"; ports = ( { name = \"http\"; port = 80; "
                                   "}, { name = \"https\"; port = 443; } );")}),
                    &*before.cfg);
    ASSERT_EQ(after.all(), Strings{});
    EXPECT_EQ(find(*after.cfg, "a").clusterIP, "10.96.0.1");
    EXPECT_EQ(find(*after.cfg, "b").clusterIP, "10.96.0.2");
    EXPECT_EQ(find(*after.cfg, "new").clusterIP, "10.96.0.3");
    EXPECT_EQ(find(*after.cfg, "a").ports[0].nodePort, 30000);
    EXPECT_EQ(find(*after.cfg, "new").ports[0].nodePort, 30001);
    EXPECT_EQ(find(*after.cfg, "a").ports[1].nodePort, 30002);
}

TEST(Allocation, ExplicitRequestCannotTakeARunningAllocation) {
    Outcome before = run(many({svc("a", "ports = ( { port = 80; } );")}));
    ASSERT_EQ(before.cfg->services[0].clusterIP, "10.96.0.1");
    Outcome after = run(many({svc("b", "clusterIP = \"10.96.0.1\"; ports = ( { port = 80; } );"),
                          svc("a", "ports = ( { port = 80; } );")}),
                    &*before.cfg);
    EXPECT_EQ(after.all(), Strings{"t.conf:4: services[0] (default/b): spec.clusterIPs: Invalid "
                                   "value: [\"10.96.0.1\"]: failed to allocate IP 10.96.0.1: "
                                   "provided IP is already allocated"});
}

TEST(Allocation, ExplicitHolderKeepsItsAddressOverAnEarlierClaim) {
    Outcome before = run(many({svc("a", "clusterIP = \"10.96.0.9\"; ports = ( { port = 80; } );")}));
    ASSERT_EQ(before.all(), Strings{});
    Outcome after = run(many({svc("b", "clusterIP = \"10.96.0.9\"; ports = ( { port = 80; } );"),
                          svc("a", "clusterIP = \"10.96.0.9\"; ports = ( { port = 80; } );")}),
                    &*before.cfg);
    EXPECT_EQ(after.all(), Strings{"t.conf:4: services[0] (default/b): spec.clusterIPs: Invalid "
                                   "value: [\"10.96.0.9\"]: failed to allocate IP 10.96.0.9: "
                                   "provided IP is already allocated"});
}

TEST(Allocation, PreviousAddressOutsideTheNewRangeIsReplaced) {
    Outcome before = run(many({svc("a", "ports = ( { port = 80; } );")}));
    Outcome after = run("appliance = { ports = ( { name = \"p0\"; device = \"d\"; } ); };\n"
                    "cluster = { serviceCIDRs = [ \"10.100.0.0/24\" ]; };\n"
                    "services = (\n" + svc("a", "ports = ( { port = 80; } );") + "\n);\n",
                    &*before.cfg);
    ASSERT_EQ(after.all(), Strings{});
    EXPECT_EQ(after.cfg->services[0].clusterIP, "10.100.0.1");
}

TEST(Allocation, NodePortOutOfRange) {
    EXPECT_EQ(errors(one("type = \"NodePort\"; ports = ( { port = 80; nodePort = 40000; } );")),
              Strings{kWeb + "spec.ports[0].nodePort: Invalid value: 40000: provided port is not "
                             "in the valid range. The range of valid ports is 30000-32767"});
}

TEST(Allocation, NodePortAlreadyAllocated) {
    EXPECT_EQ(errors(many({svc("a", "type = \"NodePort\"; ports = ( { port = 80; nodePort = 30007; "
                                    "} );"),
                           svc("b", "type = \"NodePort\"; ports = ( { port = 80; protocol = "
                                    "\"UDP\"; nodePort = 30007; } );")})),
              Strings{"t.conf:5: services[1] (default/b): spec.ports[0].nodePort: Invalid value: "
                      "30007: provided port is already allocated"});
}

TEST(Allocation, NodePortWithinOneService) {
    // TCP and UDP may share a nodePort within one service, but not the same protocol twice.
    EXPECT_EQ(errors(one("type = \"NodePort\"; ports = ( "
                         "{ name = \"a\"; port = 53; protocol = \"TCP\"; nodePort = 30053; }, "
                         "{ name = \"b\"; port = 53; protocol = \"UDP\"; nodePort = 30053; } );")),
              Strings{});
    EXPECT_EQ(errors(one("type = \"NodePort\"; ports = ( "
                         "{ name = \"a\"; port = 53; nodePort = 30053; }, "
                         "{ name = \"b\"; port = 54; nodePort = 30053; } );")),
              Strings{kWeb + "spec.ports[1].nodePort: Duplicate value: 30053"});
    // Other protocol, other port number: Kubernetes' initNodePorts shares a nodePort only
    // between ports of the same number, so the second request finds it taken.
    EXPECT_EQ(errors(one("type = \"NodePort\"; ports = ( "
                         "{ name = \"a\"; port = 80; nodePort = 30100; }, "
                         "{ name = \"b\"; port = 81; protocol = \"UDP\"; nodePort = 30100; } );")),
              Strings{kWeb + "spec.ports[1].nodePort: Invalid value: 30100: provided port is already allocated"});
    // On an update, a nodePort the service held before may serve another of its ports
    // (updateNodePorts does not allocate it again).
    Outcome before = run(one("type = \"NodePort\"; ports = ( { name = \"a\"; port = 80; nodePort = 30100; } );"));
    ASSERT_EQ(before.all(), Strings{});
    EXPECT_EQ(run(one("type = \"NodePort\"; ports = ( "
                      "{ name = \"a\"; port = 80; nodePort = 30100; }, "
                      "{ name = \"b\"; port = 81; protocol = \"UDP\"; nodePort = 30100; } );"),
                  &*before.cfg)
                  .all(),
              Strings{});
}

TEST(Allocation, PortsWithTheSameNumberShareANodePort) {
    Outcome r = run(one("type = \"LoadBalancer\"; ports = ( "
                    "{ name = \"a\"; port = 53; protocol = \"TCP\"; }, "
                    "{ name = \"b\"; port = 53; protocol = \"UDP\"; }, "
                    "{ name = \"c\"; port = 80; } );"));
    ASSERT_EQ(r.all(), Strings{});
    const auto& p = r.cfg->services[0].ports;
    EXPECT_EQ(p[0].nodePort, 30000);
    EXPECT_EQ(p[1].nodePort, 30000);
    EXPECT_EQ(p[2].nodePort, 30001);
}

TEST(Allocation, LoadBalancerWithoutNodePorts) {
    Outcome r = run(one("type = \"LoadBalancer\"; allocateLoadBalancerNodePorts = false; "
                    "ports = ( { port = 80; } );"));
    ASSERT_EQ(r.all(), Strings{});
    EXPECT_EQ(r.cfg->services[0].ports[0].nodePort, 0);
}

TEST(Allocation, DualStack) {
    Errors errs;
    auto cfg = load_config_file(src("tests/unit/testdata/dualstack.conf"), errs);
    ASSERT_TRUE(cfg);
    ASSERT_EQ(strs(errs), Strings{});
    ASSERT_EQ(strs(validate_and_allocate(*cfg, nullptr)), Strings{});
    EXPECT_EQ(find(*cfg, "v6").clusterIPs, Strings{"fd00:10::2"});
    EXPECT_EQ(find(*cfg, "both").clusterIPs, (Strings{"fd00:10::3", "10.96.0.2"}));
    EXPECT_EQ(find(*cfg, "both").ipFamilies, (Strings{"IPv6", "IPv4"}));
    EXPECT_EQ(find(*cfg, "v4").clusterIPs, Strings{"10.96.0.3"});
    EXPECT_EQ(find(*cfg, "pinned").ipFamilyPolicy, "RequireDualStack");
}

TEST(Allocation, DualStackNeedsTwoCidrs) {
    EXPECT_EQ(errors(one("ipFamilyPolicy = \"RequireDualStack\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this "
                             "cluster is not configured for dual-stack services"});
    EXPECT_EQ(errors(one("ipFamilies = [ \"IPv6\" ]; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this "
                             "cluster"});
    // A family inferred from a clusterIP is named on that clusterIP (initIPFamilyFields).
    EXPECT_EQ(errors(one("clusterIP = \"fd00::10\"; ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.clusterIPs[0]: Invalid value: [\"fd00::10\"]: IPv6 is not configured on "
                             "this cluster"});
    // initIPFamilyFields collects both before giving up.
    EXPECT_EQ(errors(one("ipFamilyPolicy = \"RequireDualStack\"; ipFamilies = [ \"IPv6\" ]; ports = ( { port = 80; } );")),
              (Strings{kWeb + "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not "
                              "configured for dual-stack services",
                       kWeb + "spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"}));
    // Headless with a selector: the same family checks; headless without one: anything goes.
    EXPECT_EQ(errors(one("clusterIP = \"None\"; selector = { app = \"x\"; }; ipFamilies = [ \"IPv6\" ]; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"});
    EXPECT_EQ(errors(one("clusterIP = \"None\"; ipFamilies = [ \"IPv6\", \"IPv4\" ]; ports = ( { port = 80; } );")),
              Strings{});
    EXPECT_EQ(errors(one("clusterIP = \"None\"; ipFamilyPolicy = \"SingleStack\"; ipFamilies = [ \"IPv4\", \"IPv6\" ]; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or "
                             "'PreferDualStack' when multiple IP families are specified"});
    EXPECT_EQ(errors(one("ipFamilies = [ \"IPv4\", \"IPv6\" ]; ipFamilyPolicy = \"SingleStack\"; "
                         "ports = ( { port = 80; } );")),
              Strings{kWeb + "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be "
                             "'RequireDualStack' or 'PreferDualStack' when multiple IP families "
                             "are specified"});
}

// ---- endpoint slices ----------------------------------------------------------------------

// kHead + service "web" on line 4 + one slice on line 6 with the given body.
std::string slice(const std::string& body, const std::string& meta = "name = \"web-1\";") {
    return one("clusterIP = \"10.96.0.10\"; ports = ( { port = 80; } );") +
           "endpointSlices = (\n{ metadata = { " + meta + " }; " + body + " }\n);\n";
}
const std::string kSlice = "t.conf:7: endpointSlices[0] (default/web-1): ";

// A slice of a service that is not there is valid (the API server accepts it) and ignored
// (kube-proxy does): a notice, no error.
TEST(SliceValidation, ServiceMayBeMissingNoticeOnly) {
    EXPECT_EQ(errors(slice("service = \"api\"; endpoints = ();")), Strings{});
    Errors le;
    auto cfg = load_config_string(slice("service = \"web\";", "name = \"web-1\"; namespace = \"other\";"), "t.conf", le);
    ASSERT_TRUE(cfg && le.empty());
    EXPECT_EQ(cfg->notices,
              Strings{"t.conf:7: EndpointSlice other/web-1: no service \"web\" in namespace \"other\": ignored"});
    EXPECT_TRUE(validate_and_allocate(*cfg, nullptr).empty());
    EXPECT_EQ(errors(slice("endpoints = ();")),
              Strings{kSlice + "service: Required value: the name of the service these endpoints "
                               "belong to"});
}

TEST(SliceValidation, NameIsADnsSubdomain) {
    EXPECT_EQ(errors(slice("service = \"web\";", "name = \"web.1\";")), Strings{});
    EXPECT_EQ(errors(slice("service = \"web\";", "name = \"Web\";")),
              Strings{"t.conf:7: endpointSlices[0] (default/Web): metadata.name: Invalid value: "
                      "\"Web\": a lowercase RFC 1123 subdomain must consist of lower case "
                      "alphanumeric characters, '-' or '.', and must start and end with an "
                      "alphanumeric character (e.g. 'example.com', regex used for validation is "
                      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"});
}

TEST(SliceValidation, AddressType) {
    EXPECT_EQ(errors(slice("service = \"web\"; addressType = \"IPv5\";")),
              Strings{kSlice + "addressType: Unsupported value: \"IPv5\": supported values: "
                               "\"FQDN\", \"IPv4\", \"IPv6\""});
}

TEST(SliceValidation, AddressesMatchTheType) {
    EXPECT_EQ(errors(slice("service = \"web\"; endpoints = ( { addresses = [ \"2001:db8::1\", "
                           "\"x\" ]; }, { addresses = []; } );")),
              (Strings{kSlice + "endpoints[0].addresses[0]: Invalid value: \"2001:db8::1\": must "
                                "be a valid IPv4 address",
                       kSlice + "endpoints[0].addresses[1]: Invalid value: \"x\": must be a valid "
                                "IPv4 address",
                       kSlice + "endpoints[0].addresses[1]: Invalid value: \"x\": must be a valid "
                                "IP address",
                       kSlice + "endpoints[1].addresses: Required value: must contain at least 1 "
                                "address"}));
    // IsValidIPv6Address: an IPv4-mapped address is IPv4 to Go, not IPv6.
    EXPECT_EQ(errors(slice("service = \"web\"; addressType = \"IPv6\"; endpoints = ( { addresses = [ "
                           "\"::ffff:198.51.100.5\", \"2001:db8::5\" ]; } );")),
              Strings{kSlice + "endpoints[0].addresses[0]: Invalid value: \"::ffff:198.51.100.5\": must be a valid "
                               "IPv6 address"});
    EXPECT_EQ(errors(slice("service = \"web\"; addressType = \"FQDN\"; endpoints = ( { addresses "
                           "= [ \"db.example.com\", \"db\" ]; } );")),
              Strings{kSlice + "endpoints[0].addresses[1]: Invalid value: \"db\": should be a "
                               "domain with at least two segments separated by dots"});
}

TEST(SliceValidation, EndpointAddressesNotSpecial) {
    const std::string e = kSlice + "endpoints[0].addresses[";
    EXPECT_EQ(errors(slice("service = \"web\"; endpoints = ( { addresses = [ \"127.0.0.1\", "
                           "\"169.254.0.1\", \"224.0.0.1\", \"0.0.0.0\" ]; } );")),
              (Strings{e + "0]: Invalid value: \"127.0.0.1\": may not be in the loopback range "
                           "(127.0.0.0/8, ::1/128)",
                       e + "1]: Invalid value: \"169.254.0.1\": may not be in the link-local "
                           "range (169.254.0.0/16, fe80::/10)",
                       e + "2]: Invalid value: \"224.0.0.1\": may not be in the link-local "
                           "multicast range (224.0.0.0/24, ff02::/10)",
                       e + "3]: Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)"}));
}

TEST(SliceValidation, EndpointMayNotBeAClusterIP) {
    EXPECT_EQ(errors(slice("service = \"web\"; endpoints = ( { addresses = [ \"10.96.0.10\" ]; "
                           "} );")),
              Strings{kSlice + "endpoints[0].addresses[0]: Invalid value: \"10.96.0.10\": may not "
                               "be the clusterIP of service default/web"});
}

TEST(SliceValidation, WeightRange) {
    EXPECT_EQ(errors(slice("service = \"web\"; endpoints = ( { addresses = [ \"192.0.2.1\" ]; "
                           "weight = 65536; }, { addresses = [ \"192.0.2.2\" ]; weight = 65535; "
                           "}, { addresses = [ \"192.0.2.3\" ]; weight = 0; } );")),
              Strings{kSlice + "endpoints[0].weight: Invalid value: 65536: must be between 0 and "
                               "65535, inclusive"});
}

TEST(SliceValidation, EndpointNames) {
    EXPECT_EQ(errors(slice("service = \"web\"; endpoints = ( { addresses = [ \"192.0.2.1\" ]; "
                           "nodeName = \"Node_1\"; hostname = \"a.b\"; } );")),
              (Strings{kSlice + "endpoints[0].nodeName: Invalid value: \"Node_1\": a lowercase RFC "
                                "1123 subdomain must consist of lower case alphanumeric "
                                "characters, '-' or '.', and must start and end with an "
                                "alphanumeric character (e.g. 'example.com', regex used for "
                                "validation is "
                                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                       kSlice + "endpoints[0].hostname: Invalid value: \"a.b\": must not contain "
                                "dots"}));
}

TEST(SliceValidation, Ports) {
    EXPECT_EQ(errors(slice("service = \"web\"; ports = ( { name = \"http\"; port = 0; }, "
                           "{ name = \"http\"; protocol = \"ICMP\"; port = 8080; }, "
                           "{ name = \"Web\"; port = 65536; } );")),
              (Strings{kSlice + "ports[0].port: Invalid value: 0: must be between 1 and 65535, "
                                "inclusive",
                       kSlice + "ports[1].name: Duplicate value: \"http\"",
                       kSlice + "ports[1].protocol: Unsupported value: \"ICMP\": supported "
                                "values: \"SCTP\", \"TCP\", \"UDP\"",
                       kSlice + "ports[2].name: Invalid value: \"Web\": a lowercase RFC 1123 "
                                "label must consist of lower case alphanumeric characters or '-', "
                                "and must start and end with an alphanumeric character (e.g. "
                                "'my-name',  or '123-abc', regex used for validation is "
                                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                       kSlice + "ports[2].port: Invalid value: 65536: must be between 1 and "
                                "65535, inclusive"}));
}

TEST(SliceValidation, TooManyEndpoints) {
    std::string eps;
    for (int i = 0; i < 1001; i++)
        eps += std::string(i ? ", " : "") + "{ addresses = [ \"192.0." + std::to_string(2 + i / 250) +
               "." + std::to_string(1 + i % 250) + "\" ]; }";
    EXPECT_EQ(errors(slice("service = \"web\"; endpoints = ( " + eps + " );")),
              Strings{kSlice + "endpoints: Too many: 1001: must have at most 1000 items"});
}

TEST(SliceValidation, DuplicateSlice) {
    std::string t = one("ports = ( { port = 80; } );") +
                    "endpointSlices = (\n{ metadata = { name = \"s\"; }; service = \"web\"; },\n"
                    "{ metadata = { name = \"s\"; }; service = \"web\"; }\n);\n";
    EXPECT_EQ(errors(t), Strings{"t.conf:8: endpointSlices[1] (default/s): metadata.name: "
                                 "Duplicate value: \"s\""});
}

// ---- appliance and cluster ----------------------------------------------------------------

TEST(ApplianceValidation, PortsRequired) {
    EXPECT_EQ(errors("appliance = { flowTableSize = 4096; };\n"),
              Strings{"t.conf:1: appliance.ports: Required value: at least one port is required"});
}

TEST(ApplianceValidation, Ports) {
    EXPECT_EQ(errors("appliance = { ports = (\n"
                     "{ name = \"p0\"; device = \"d0\"; addresses = [ \"198.51.100.1\" ]; },\n"
                     "{ name = \"p0\"; mac = \"02:00:00:00:00\"; mtu = 10000; },\n"
                     "{ device = \"d2\"; addresses = [ \"2001:db8::1/64\" ]; } ); };\n"),
              (Strings{"t.conf:2: appliance.ports[0].addresses[0]: Invalid value: \"198.51.100.1\": "
                       "must be an address with its prefix length, (e.g. 198.51.100.1/24 or "
                       "2001:db8::1/64)",
                       "t.conf:3: appliance.ports[1].name: Duplicate value: \"p0\"",
                       "t.conf:3: appliance.ports[1].device: Required value",
                       "t.conf:3: appliance.ports[1].mac: Invalid value: \"02:00:00:00:00\": must "
                       "be a MAC address, (e.g. 02:00:5e:00:53:01)",
                       "t.conf:3: appliance.ports[1].mtu: Invalid value: 10000: must be between 68 "
                       "and 9600, inclusive",
                       "t.conf:4: appliance.ports[2].name: Required value"}));
}

TEST(ApplianceValidation, GatewaysAndNeighbours) {
    EXPECT_EQ(errors("appliance = { ports = ( { name = \"p0\"; device = \"d\"; } );\n"
                     "gateway = \"2001:db8::1\"; gateway6 = \"192.0.2.1\";\n"
                     "neighbours = ( { ip = \"192.0.2.1\"; mac = \"02:00:00:00:00:01\"; port = "
                     "\"p1\"; },\n{ ip = \"192.0.2.300\"; } ); };\n"),
              (Strings{"t.conf:1: appliance.gateway: Invalid value: \"2001:db8::1\": must be a valid "
                       "IPv4 address",
                       "t.conf:1: appliance.gateway6: Invalid value: \"192.0.2.1\": must be a valid "
                       "IPv6 address",
                       "t.conf:3: appliance.neighbours[0].port: Not found: \"p1\"",
                       "t.conf:4: appliance.neighbours[1].ip: Invalid value: \"192.0.2.300\": must "
                       "be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                       "t.conf:4: appliance.neighbours[1].mac: Required value"}));
}

// Addresses the appliance makes its own, and gateways it must reach.
TEST(ApplianceValidation, OwnAddressesAndOnLinkGateways) {
    EXPECT_EQ(errors("appliance = { ports = ( { name = \"p0\"; device = \"d\"; addresses = [ \"198.51.100.1/24\", "
                     "\"2001:db8:1::1/64\" ]; } );\n"
                     "gateway = \"203.0.113.254\"; gateway6 = \"2001:db8:1::fe\";\n"
                     "snatAddresses = [ \"0.0.0.0\", \"255.255.255.255\", \"198.51.100.2\" ]; };\n"
                     "cluster = { nodeAddresses = [ \"224.0.1.1\", \"::1\" ]; };\n"),
              (Strings{"t.conf:1: appliance.gateway: Invalid value: \"203.0.113.254\": is on no port's subnet",
                       "t.conf:1: appliance.snatAddresses[0]: Invalid value: \"0.0.0.0\": may not be unspecified "
                       "(0.0.0.0)",
                       "t.conf:1: appliance.snatAddresses[1]: Invalid value: \"255.255.255.255\": may not be the "
                       "broadcast address",
                       "t.conf:4: cluster.nodeAddresses[0]: Invalid value: \"224.0.1.1\": may not be a multicast "
                       "address",
                       "t.conf:4: cluster.nodeAddresses[1]: Invalid value: \"::1\": may not be in the loopback "
                       "range (127.0.0.0/8, ::1/128)"}));
}

TEST(ApplianceValidation, Lcores) {
    const std::string head = "appliance = { ports = ( { name = \"p0\"; device = \"d\"; } ); ";
    EXPECT_EQ(errors(head + "lcores = { main = 2; workers = [ 1, 2, 3, 1 ]; }; };\n"),
              (Strings{"t.conf:1: appliance.lcores.workers[1]: Invalid value: 2: may not be the "
                       "main lcore",
                       "t.conf:1: appliance.lcores.workers[3]: Duplicate value: 1"}));
    EXPECT_EQ(errors(head + "lcores = { workers = []; }; };\n"),
              Strings{"t.conf:1: appliance.lcores.workers: Required value: at least one worker "
                      "lcore is required"});
    std::string ws;
    for (int i = 1; i <= 65; i++) ws += (i > 1 ? ", " : "") + std::to_string(i);
    EXPECT_EQ(errors(head + "lcores = { workers = [ " + ws + " ]; }; };\n"),
              Strings{"t.conf:1: appliance.lcores.workers: Too many: 65: must have at most 64 "
                      "items"});
}

TEST(ApplianceValidation, SizesAndTimeouts) {
    EXPECT_EQ(errors("appliance = { ports = ( { name = \"p0\"; device = \"d\"; } ); flowTableSize "
                     "= 16777217; snatAddresses = [ \"x\" ]; socket = \"\";\n"
                     "timeouts = { udp = 0; tcpSyn = 0; }; };\n"),
              (Strings{"t.conf:1: appliance.flowTableSize: Invalid value: 16777217: must be "
                       "between 1024 and 16777216, inclusive",
                       "t.conf:1: appliance.snatAddresses[0]: Invalid value: \"x\": must be a valid "
                       "IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                       "t.conf:1: appliance.socket: Required value",
                       "t.conf:1: appliance.timeouts.tcpSyn: Invalid value: 0: must be greater than "
                       "0",
                       "t.conf:1: appliance.timeouts.udp: Invalid value: 0: must be greater than "
                       "0"}));
}

// validate_loaded: load errors and validation errors at once, without validation's noise
// about what could not be read.
TEST(AllErrorsAtOnce, UnreadFieldsAreNotValidatedAgain) {
    const std::string text =
        "appliance = { ports = ( { name = \"p0\"; device = \"d\"; } ); flowTableSize = 10; };\n"
        "cluster = { serviceCIDRs = 42; nodePortRange = \"30000-32767\"; };\n"
        "services = ( { metadata = { name = \"web\"; }; spec = { clusterIP = \"10.0.0.10\"; type = \"Bogus\";\n"
        "  ports = ( { port = \"eighty\"; } ); }; } );\n";
    Errors le;
    auto cfg = load_config_string(text, "t.conf", le);
    ASSERT_TRUE(cfg);
    const Strings all = strs(validate_loaded(*cfg, nullptr, le));
    // The two load errors; then the appliance's and the service's other errors. Not: the
    // port's "must be between 1 and 65535" (unread), nor the clusterIP "not in the valid
    // range" of the default service CIDR that stands in for the unread one.
    ASSERT_EQ(all.size(), 4u) << ::testing::PrintToString(all);
    EXPECT_NE(all[0].find("cluster.serviceCIDRs"), std::string::npos) << all[0];
    EXPECT_NE(all[1].find("spec.ports[0].port"), std::string::npos) << all[1];
    EXPECT_NE(all[2].find("appliance.flowTableSize: Invalid value: 10"), std::string::npos) << all[2];
    EXPECT_NE(all[3].find("spec.type: Unsupported value: \"Bogus\""), std::string::npos) << all[3];
    // A whole-file error (no object, no path) hides nothing.
    Config c2 = *cfg;
    const Strings more = strs(validate_loaded(c2, nullptr, {ConfigError{{"m.yaml", 3}, "", "", "syntax error"}}));
    EXPECT_NE(std::find_if(more.begin(), more.end(),
                           [](const std::string& e) { return e.find("appliance.flowTableSize") != std::string::npos; }),
              more.end());
}

TEST(ApplianceValidation, ExceptionPath) {
    const std::string head = "appliance = { ports = ( { name = \"p0\"; device = \"net_af_packet0,iface=lb0\"; } );\n";
    EXPECT_EQ(errors(head + "exceptionPath = { interface = \"svclb0\"; }; };\n"), Strings{});
    EXPECT_EQ(errors(head + "exceptionPath = { interface = \"svclb0\"; table = 100; }; };\n"), Strings{});
    EXPECT_EQ(errors(head + "exceptionPath = { interface = \"a very long name\"; table = 254; rateLimit = 0; }; };\n"),
              (Strings{"t.conf:1: appliance.exceptionPath.interface: Invalid value: \"a very long name\": must be "
                       "an interface name of at most 15 letters, digits, '-', '_' or '.'",
                       "t.conf:1: appliance.exceptionPath.table: Invalid value: 254: must be a routing table "
                       "other than 0 and 253-255 (the kernel's unspec, default, main and local tables)",
                       "t.conf:1: appliance.exceptionPath.rateLimit: Invalid value: 0: must be greater than 0"}));
    EXPECT_EQ(errors(head + "exceptionPath = { interface = \"lb0\"; }; };\n"),
              Strings{"t.conf:1: appliance.exceptionPath.interface: Invalid value: \"lb0\": is the interface "
                      "of appliance.ports[0]"});
    EXPECT_EQ(errors(head + "exceptionPath = { table = 7; colour = 1; }; };\n"),
              (Strings{"t.conf:2: appliance.exceptionPath.colour: unknown field \"colour\"",
                       "t.conf:2: appliance.exceptionPath.interface: Required value"}));
}

TEST(ClusterValidation, ServiceCidrs) {
    const std::string head = "appliance = { ports = ( { name = \"p0\"; device = \"d\"; } ); };\n";
    EXPECT_EQ(errors(head + "cluster = { serviceCIDRs = [ \"10.96.0.0/12\", \"10.0.0.0/16\", "
                            "\"fd00::/108\", \"fd00::/300\" ]; };\n"),
              (Strings{"t.conf:2: cluster.serviceCIDRs[1]: Invalid value: \"10.0.0.0/16\": may "
                       "specify no more than one CIDR for each IP family",
                       "t.conf:2: cluster.serviceCIDRs[3]: Invalid value: \"fd00::/300\": must be "
                       "a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"}));
    EXPECT_EQ(errors(head + "cluster = { serviceCIDRs = []; };\n"),
              Strings{"t.conf:2: cluster.serviceCIDRs: Required value"});
}

TEST(ClusterValidation, NodePortRangeAndAddresses) {
    const std::string head = "appliance = { ports = ( { name = \"p0\"; device = \"d\"; } ); };\n";
    EXPECT_EQ(errors(head + "cluster = { nodePortRange = \"32000-31000\"; nodeAddresses = [ "
                            "\"x\" ]; nodePortAddresses = [ \"192.0.2.1\" ]; nodeNames = [ "
                            "\"Node\" ]; loadBalancerClass = \"a/b/c\"; };\n"),
              (Strings{"t.conf:2: cluster.nodePortRange: Invalid value: \"32000-31000\": must "
                       "satisfy 1 <= first <= last <= 65535",
                       "t.conf:2: cluster.nodeNames[0]: Invalid value: \"Node\": a lowercase RFC "
                       "1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                       "'.', and must start and end with an alphanumeric character (e.g. "
                       "'example.com', regex used for validation is "
                       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                       "t.conf:2: cluster.nodeAddresses[0]: Invalid value: \"x\": must be a valid "
                       "IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                       "t.conf:2: cluster.nodePortAddresses[0]: Invalid value: \"192.0.2.1\": "
                       "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                       "t.conf:2: cluster.loadBalancerClass: Invalid value: \"a/b/c\": a qualified "
                       "name must consist of alphanumeric characters, '-', '_' or '.', and must "
                       "start and end with an alphanumeric character (e.g. 'MyName',  or "
                       "'my.name',  or '123-abc', regex used for validation is "
                       "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
                       "subdomain prefix and '/' (e.g. 'example.com/MyName')"}));
}

}  // namespace
}  // namespace svclb::cp
