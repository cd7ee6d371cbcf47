// SPDX-License-Identifier: Apache-2.0
// Manifest loader tests: Kubernetes YAML / JSON into the model (cp/manifest_loader.h), then
// through the same validator as the libconfig file. Messages are user-facing: a diff here is
// a behaviour change. Test data lives in tests/unit/testdata/manifests, found through
// $SVCLB_SRC (the source root; default ".").
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cp/config_loader.h"
#include "cp/manifest_loader.h"
#include "cp/validate.h"

namespace svclb::cp {
namespace {

using Strings = std::vector<std::string>;

std::string src(const std::string& rel) {
    const char* root = std::getenv("SVCLB_SRC");
    return std::string(root ? root : ".") + "/" + rel;
}
const std::string kData = "tests/unit/testdata/manifests/";

Strings strs(const Errors& errs) {
    Strings out;
    for (auto& e : errs) out.push_back(e.str());
    return out;
}

// The cluster the examples live in: serviceCIDRs 10.0.0.0/16 (string-only, never sent to),
// default node port range.
Config cluster() {
    Errors errs;
    auto cfg = load_config_string(
        "appliance = { ports = ( { name = \"p0\"; device = \"net_null0\"; "
        "addresses = [ \"198.51.100.1/24\" ]; } ); };\n"
        "cluster = { serviceCIDRs = [ \"10.0.0.0/16\" ]; };\n",
        "cluster.conf", errs);
    EXPECT_TRUE(cfg.has_value());
    EXPECT_TRUE(errs.empty());
    return cfg ? *cfg : Config{};
}

struct Loaded {
    Config cfg = cluster();
    bool ok = false;
    Strings errs, notices;
};

Loaded from_file(const std::string& rel) {
    Loaded l;
    Errors errs;
    l.ok = load_manifest_file(src(kData + rel), l.cfg, errs, l.notices);
    l.errs = strs(errs);
    return l;
}

Loaded from_string(const std::string& text, const std::string& name = "m.yaml") {
    Loaded l;
    Errors errs;
    l.ok = load_manifest_string(text, name, l.cfg, errs, l.notices);
    l.errs = strs(errs);
    return l;
}

Strings load_errors(const std::string& text) { return from_string(text).errs; }

// ---- the user's examples -----------------------------------------------------------------

TEST(ManifestExamples, EveryExampleLoadsAndValidates) {
    const std::string dir = src(kData + "examples");
    std::vector<std::string> files;
    for (auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".yaml") files.push_back(e.path().string());
    ASSERT_EQ(files.size(), 8u);
    for (const auto& f : files) {
        SCOPED_TRACE(f);
        Config cfg = cluster();
        Errors errs;
        Strings notices;
        ASSERT_TRUE(load_manifest_file(f, cfg, errs, notices));
        EXPECT_EQ(strs(errs), Strings{});
        ASSERT_EQ(cfg.services.size(), 1u);
        EXPECT_EQ(strs(validate_and_allocate(cfg, nullptr)), Strings{});
        EXPECT_EQ(notices.size(), f.find("02-") != std::string::npos ? 1u : 0u);
    }
}

TEST(ManifestExamples, SelectorTargetPort) {
    auto l = from_file("examples/01-service-selector.yaml");
    ASSERT_EQ(l.cfg.services.size(), 1u);
    const Service& s = l.cfg.services[0];
    EXPECT_EQ(s.name, "my-service");
    EXPECT_EQ(s.ns, "default");
    EXPECT_EQ(s.type, "ClusterIP");
    EXPECT_TRUE(s.has_selector);
    EXPECT_EQ(s.selector.at("app.kubernetes.io/name"), "MyApp");
    ASSERT_EQ(s.ports.size(), 1u);
    EXPECT_EQ(s.ports[0].protocol, "TCP");
    EXPECT_EQ(s.ports[0].port, 80);
    EXPECT_TRUE(s.ports[0].targetPort.set);
    EXPECT_FALSE(s.ports[0].targetPort.is_name);
    EXPECT_EQ(s.ports[0].targetPort.num, 9376);
    EXPECT_EQ(s.loc.file, src(kData + "examples/01-service-selector.yaml"));
    EXPECT_EQ(s.loc.line, 2);
    EXPECT_EQ(s.ports[0].loc.line, 10);
}

TEST(ManifestExamples, PodIgnoredWithNoticeNamedTargetPort) {
    auto l = from_file("examples/02-named-targetport.yaml");
    EXPECT_EQ(l.errs, Strings{});
    ASSERT_EQ(l.notices.size(), 1u);
    EXPECT_EQ(l.notices[0], src(kData + "examples/02-named-targetport.yaml") +
                                ":2: Pod default/nginx: ignored (svclb reads Service, "
                                "EndpointSlice and Endpoints)");
    ASSERT_EQ(l.cfg.services.size(), 1u);
    const ServicePort& p = l.cfg.services[0].ports.at(0);
    EXPECT_EQ(p.name, "name-of-service-port");
    EXPECT_TRUE(p.targetPort.is_name);
    EXPECT_EQ(p.targetPort.name, "http-web-svc");
    EXPECT_EQ(l.cfg.services[0].loc.line, 16);
}

TEST(ManifestExamples, SelectorlessWithSlice) {
    auto l = from_file("examples/03-selectorless-with-slice.yaml");
    EXPECT_EQ(l.errs, Strings{});
    ASSERT_EQ(l.cfg.services.size(), 1u);
    EXPECT_FALSE(l.cfg.services[0].has_selector);
    ASSERT_EQ(l.cfg.slices.size(), 1u);
    const EndpointSlice& sl = l.cfg.slices[0];
    EXPECT_EQ(sl.name, "my-service-1");
    EXPECT_EQ(sl.service, "my-service");
    EXPECT_EQ(sl.addressType, "IPv4");
    ASSERT_EQ(sl.ports.size(), 1u);
    EXPECT_EQ(sl.ports[0].name, "");
    EXPECT_EQ(sl.ports[0].appProtocol, "http");
    EXPECT_EQ(sl.ports[0].port, 9376);
    ASSERT_EQ(sl.endpoints.size(), 2u);
    EXPECT_EQ(sl.endpoints[0].addresses, Strings{"10.4.5.6"});
    EXPECT_EQ(sl.endpoints[1].addresses, Strings{"10.1.2.3"});
    EXPECT_EQ(sl.endpoints[0].weight, 1u);
    EXPECT_FALSE(sl.endpoints[0].conditions.ready.has_value());
    EXPECT_EQ(sl.loc.line, 12);
    EXPECT_EQ(sl.endpoints[1].loc.line, 27);
}

TEST(ManifestExamples, LoadBalancerAndExternalNameAndExternalIPs) {
    auto lb = from_file("examples/06-loadbalancer.yaml");
    const Service& s = lb.cfg.services.at(0);
    EXPECT_EQ(s.type, "LoadBalancer");
    EXPECT_EQ(s.clusterIP, "10.0.171.239");
    EXPECT_EQ(s.loadBalancerSourceRanges, Strings{"143.231.0.0/16"});
    ASSERT_EQ(s.ingress.size(), 1u);
    EXPECT_EQ(s.ingress[0].ip, "192.0.2.127");

    auto en = from_file("examples/07-externalname.yaml");
    EXPECT_EQ(en.cfg.services.at(0).ns, "prod");
    EXPECT_EQ(en.cfg.services.at(0).externalName, "my.database.example.com");

    auto ex = from_file("examples/08-externalips.yaml");
    EXPECT_EQ(ex.cfg.services.at(0).externalIPs, Strings{"198.51.100.32"});

    auto np = from_file("examples/05-nodeport.yaml");
    EXPECT_EQ(np.cfg.services.at(0).ports.at(0).nodePort, 30007);
}

// ---- formats -----------------------------------------------------------------------------

TEST(ManifestFormats, MultiDocument) {
    auto l = from_file("multi.yaml");
    EXPECT_TRUE(l.ok);
    EXPECT_EQ(l.errs, Strings{});
    EXPECT_EQ(l.notices, Strings{});
    ASSERT_EQ(l.cfg.services.size(), 2u);
    const Service& api = l.cfg.services[0];
    EXPECT_EQ(api.key(), "shop/api");
    EXPECT_EQ(api.labels.at("app"), "api");
    EXPECT_EQ(api.annotations.at("example.com/owner"), "team-a");
    EXPECT_EQ(api.ports.at(1).protocol, "UDP");
    EXPECT_EQ(l.cfg.services[1].clusterIP, "None");
    ASSERT_EQ(l.cfg.slices.size(), 1u);
    const EndpointSlice& sl = l.cfg.slices[0];
    EXPECT_EQ(sl.service, "api");
    EXPECT_EQ(sl.labels.at("endpointslice.kubernetes.io/managed-by"),
              "endpointslice-controller.k8s.io");
    ASSERT_EQ(sl.endpoints.size(), 2u);
    const Endpoint& e0 = sl.endpoints[0];
    EXPECT_EQ(e0.conditions.ready, true);
    EXPECT_EQ(e0.conditions.terminating, false);
    EXPECT_EQ(e0.nodeName, "node-a");
    EXPECT_EQ(e0.zone, "zone-1");
    EXPECT_EQ(e0.hostname, "api-0");
    const Endpoint& e1 = sl.endpoints[1];
    EXPECT_EQ(e1.conditions.ready, false);
    EXPECT_EQ(e1.conditions.serving, true);
    EXPECT_EQ(e1.conditions.terminating, true);
    EXPECT_EQ(e1.loc.line, 48);
    EXPECT_EQ(strs(validate_and_allocate(l.cfg, nullptr)), Strings{});
}

TEST(ManifestFormats, KindListEveryServiceField) {
    auto l = from_file("list.yaml");
    EXPECT_EQ(l.errs, Strings{});
    ASSERT_EQ(l.notices.size(), 1u);
    EXPECT_NE(l.notices[0].find(":46: ConfigMap default/settings: ignored"), std::string::npos)
        << l.notices[0];
    ASSERT_EQ(l.cfg.services.size(), 1u);
    const Service& s = l.cfg.services[0];
    EXPECT_EQ(s.type, "LoadBalancer");
    EXPECT_EQ(s.clusterIPs, Strings{"10.0.0.20"});
    EXPECT_EQ(s.ipFamilies, Strings{"IPv4"});
    EXPECT_EQ(s.ipFamilyPolicy, "SingleStack");
    EXPECT_EQ(s.externalTrafficPolicy, "Local");
    EXPECT_EQ(s.internalTrafficPolicy, "Cluster");
    EXPECT_EQ(s.healthCheckNodePort, 32000);
    EXPECT_EQ(s.allocateLoadBalancerNodePorts, true);
    EXPECT_EQ(s.loadBalancerClass, "svclb.io/lb");
    EXPECT_EQ(s.sessionAffinity, "ClientIP");
    EXPECT_EQ(s.affinityTimeoutSeconds, 600);
    EXPECT_TRUE(s.publishNotReadyAddresses);
    EXPECT_EQ(s.trafficDistribution, "PreferClose");
    EXPECT_EQ(s.ports.at(0).nodePort, 30080);
    EXPECT_EQ(s.ports.at(0).appProtocol, "http");
    ASSERT_EQ(s.ingress.size(), 2u);
    EXPECT_EQ(s.ingress[0].ipMode, "VIP");
    EXPECT_EQ(s.ingress[1].hostname, "lb.example.com");
    EXPECT_EQ(s.loc.line, 6);
    EXPECT_EQ(strs(validate_and_allocate(l.cfg, nullptr)), Strings{});
}

TEST(ManifestFormats, Json) {
    auto l = from_file("svc.json");
    EXPECT_EQ(l.errs, Strings{});
    ASSERT_EQ(l.cfg.services.size(), 1u);
    const Service& s = l.cfg.services[0];
    EXPECT_EQ(s.name, "json-svc");
    EXPECT_EQ(s.externalIPs, Strings{"198.51.100.40"});
    EXPECT_EQ(s.ports.at(0).port, 443);
    EXPECT_TRUE(s.ports.at(0).targetPort.is_name);
    EXPECT_EQ(s.loc.line, 5); // the object's opening brace
    ASSERT_EQ(l.cfg.slices.size(), 1u);
    EXPECT_EQ(l.cfg.slices[0].ports.at(0).port, 8443);
    EXPECT_EQ(l.cfg.slices[0].ports.at(0).protocol, "TCP");
    EXPECT_EQ(strs(validate_and_allocate(l.cfg, nullptr)), Strings{});
}

TEST(ManifestFormats, EndpointsBecomeSlices) {
    auto l = from_file("endpoints.yaml");
    EXPECT_EQ(l.errs, Strings{});
    ASSERT_EQ(l.cfg.slices.size(), 3u);
    const EndpointSlice& v4 = l.cfg.slices[0];
    EXPECT_EQ(v4.name, "legacy-0");
    EXPECT_EQ(v4.service, "legacy");
    EXPECT_EQ(v4.addressType, "IPv4");
    EXPECT_EQ(v4.labels.at("kubernetes.io/service-name"), "legacy");
    EXPECT_EQ(v4.labels.at("endpointslice.kubernetes.io/managed-by"),
              "endpointslicemirroring-controller.k8s.io");
    EXPECT_EQ(v4.labels.at("team"), "ops");
    ASSERT_EQ(v4.ports.size(), 2u);
    EXPECT_EQ(v4.ports[0].name, "http");
    EXPECT_EQ(v4.ports[0].port, 8080);
    EXPECT_EQ(v4.ports[1].name, "metrics");
    EXPECT_EQ(v4.ports[1].protocol, "TCP");
    ASSERT_EQ(v4.endpoints.size(), 2u);
    EXPECT_EQ(v4.endpoints[0].addresses, Strings{"10.3.0.1"});
    EXPECT_EQ(v4.endpoints[0].conditions.ready, true);
    EXPECT_EQ(v4.endpoints[0].nodeName, "node-a");
    EXPECT_EQ(v4.endpoints[0].hostname, "legacy-0");
    EXPECT_EQ(v4.endpoints[0].loc.line, 22);
    EXPECT_EQ(v4.endpoints[1].addresses, Strings{"10.3.0.2"});
    EXPECT_EQ(v4.endpoints[1].conditions.ready, false);
    const EndpointSlice& v6 = l.cfg.slices[1];
    EXPECT_EQ(v6.name, "legacy-1");
    EXPECT_EQ(v6.addressType, "IPv6");
    EXPECT_EQ(v6.endpoints.at(0).addresses, Strings{"fd00::1"});
    const EndpointSlice& second = l.cfg.slices[2];
    EXPECT_EQ(second.name, "legacy-2");
    EXPECT_EQ(second.ports.at(0).port, 8081);
    EXPECT_EQ(second.endpoints.at(0).addresses, Strings{"10.3.1.1"});
    EXPECT_EQ(strs(validate_and_allocate(l.cfg, nullptr)), Strings{});
}

// What the EndpointSlice mirroring controller would leave: Endpoints are mirrored for a
// service without a selector; for one with a selector only when nothing else gives it
// endpoints (svclb's allowance for hand-written Service + Endpoints); never with the
// skip-mirror label.
TEST(ManifestFormats, EndpointsMirroredAsTheMirroringController) {
    const std::string svc = R"(apiVersion: v1
kind: Service
metadata: {name: NAME}
spec:
  SELECTOR
  ports: [{name: http, port: 80, targetPort: 8080}]
)";
    int selectorless = 0;
    auto service = [&](const std::string& name, bool selector) {
        std::string s = svc;
        s.replace(s.find("NAME"), 4, name);
        s.replace(s.find("SELECTOR"), 8,
                  selector ? "selector: {app: x}" : "clusterIP: 10.0.0." + std::to_string(90 + selectorless++));
        return s;
    };
    auto endpoints = [](const std::string& name, const std::string& ip, const std::string& labels = "{}") {
        return "apiVersion: v1\nkind: Endpoints\nmetadata: {name: " + name + ", labels: " + labels +
               "}\nsubsets: [{addresses: [{ip: " + ip + "}], ports: [{name: http, port: 8080}]}]\n";
    };
    const std::string slice = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: both-abc, "
                              "labels: {kubernetes.io/service-name: both}}\naddressType: IPv4\nports: [{name: http, "
                              "port: 8080}]\nendpoints: [{addresses: [10.3.0.9]}]\n";
    auto l = from_string(service("both", true) + "---\n" + endpoints("both", "10.3.0.1") + "---\n" + slice + "---\n" +
                         service("alone", true) + "---\n" + endpoints("alone", "10.3.0.2") + "---\n" +
                         service("manual", false) + "---\n" + endpoints("manual", "10.3.0.3") + "---\n" +
                         service("skip", false) + "---\n" +
                         endpoints("skip", "10.3.0.4", "{endpointslice.kubernetes.io/skip-mirror: \"true\"}"));
    EXPECT_EQ(l.errs, Strings{});
    EXPECT_EQ(l.notices, Strings{"m.yaml:51: Endpoints default/skip: labelled endpointslice.kubernetes.io/skip-mirror"
                                 "=true: not mirrored"});
    settle_endpoint_slices(l.cfg);
    Strings names;
    for (const auto& sl : l.cfg.slices) names.push_back(sl.name + "=" + sl.endpoints.at(0).addresses.at(0));
    EXPECT_EQ(names, (Strings{"both-abc=10.3.0.9", "alone-0=10.3.0.2", "manual-0=10.3.0.3"}));
    ASSERT_EQ(l.cfg.notices.size(), 1u);
    EXPECT_EQ(l.cfg.notices[0], "m.yaml:11: Endpoints default/both: not mirrored: service default/both has a selector "
                                "and EndpointSlices of its own");
    settle_endpoint_slices(l.cfg); // idempotent
    EXPECT_EQ(l.cfg.slices.size(), 3u);
    EXPECT_EQ(l.cfg.notices.size(), 1u);
    EXPECT_EQ(strs(validate_and_allocate(l.cfg, nullptr)), Strings{});
}

// Every error at once: a field that cannot be read does not hide the other objects'
// validation errors, nor its own object's other fields; only what validation would say
// again about the unread field is left out.
TEST(ManifestErrors, LoadErrorsDoNotHideValidationErrors) {
    Errors errs;
    Config cfg = cluster();
    Strings notices;
    load_manifest_string(R"(apiVersion: v1
kind: Service
metadata: {name: one, namespace: Bad.NS}
spec:
  ports:
  - {name: a, port: "80"}
  - {name: b, port: 81, targetPort: "-web"}
---
apiVersion: v1
kind: Service
metadata: {name: two}
spec: {type: Foo, ports: [{port: 80}]}
)", "m.yaml", cfg, errs, notices);
    ASSERT_EQ(errs.size(), 1u);
    const Strings all = strs(validate_loaded(cfg, nullptr, errs));
    ASSERT_EQ(all.size(), 4u) << ::testing::PrintToString(all);
    EXPECT_EQ(all[0], "m.yaml:6: Service Bad.NS/one: spec.ports[0].port: Invalid value: \"80\": must be an integer");
    EXPECT_NE(all[1].find("services[0] (Bad.NS/one): metadata.namespace: Invalid value: \"Bad.NS\""),
              std::string::npos) << all[1];
    EXPECT_NE(all[2].find("services[0] (Bad.NS/one): spec.ports[1].targetPort: Invalid value: \"-web\""),
              std::string::npos) << all[2];
    EXPECT_NE(all[3].find("services[1] (default/two): spec.type: Unsupported value: \"Foo\""), std::string::npos)
        << all[3];
    for (const auto& e : all) EXPECT_EQ(e.find("spec.ports[0].port: Invalid value: 0"), std::string::npos) << e;
}

// A slice in the config file whose service comes with a manifest loaded after it: the
// orphan notice of the first settling goes when the service arrives.
TEST(ManifestFormats, OrphanNoticeGoesWhenTheServiceArrives) {
    Errors errs;
    auto cfg = load_config_string(
        "appliance = { ports = ( { name = \"p0\"; device = \"d\"; addresses = [ \"198.51.100.1/24\" ]; } ); };\n"
        "cluster = { serviceCIDRs = [ \"10.0.0.0/16\" ]; };\n"
        "endpointSlices = ( { metadata = { name = \"late-1\"; }; service = \"late\"; addressType = \"IPv4\";\n"
        "  ports = ( { name = \"http\"; port = 8080; } ); endpoints = ( { addresses = [ \"198.51.100.11\" ]; } ); } );\n",
        "c.conf", errs);
    ASSERT_TRUE(cfg && errs.empty());
    ASSERT_EQ(cfg->notices.size(), 1u);
    EXPECT_NE(cfg->notices[0].find("EndpointSlice default/late-1: no service \"late\""), std::string::npos);
    Strings notices;
    ASSERT_TRUE(load_manifest_string("apiVersion: v1\nkind: Service\nmetadata: {name: late}\nspec: {ports: [{name: "
                                     "http, port: 80, targetPort: 8080}]}\n",
                                     "m.yaml", *cfg, errs, notices));
    settle_endpoint_slices(*cfg);
    EXPECT_EQ(cfg->notices, Strings{});
    EXPECT_EQ(cfg->slices.size(), 1u);
}

TEST(ManifestFormats, DirectoryIsSortedAndFiltered) {
    Config cfg = cluster();
    Errors errs;
    Strings notices;
    EXPECT_TRUE(load_manifest_path(src(kData + "dir"), cfg, errs, notices));
    EXPECT_EQ(strs(errs), Strings{});
    ASSERT_EQ(cfg.services.size(), 1u);
    EXPECT_EQ(cfg.services[0].name, "from-dir");
    ASSERT_EQ(cfg.slices.size(), 1u);
    EXPECT_EQ(cfg.slices[0].service, "from-dir");
    ASSERT_EQ(notices.size(), 1u); // the Pod in c-pod.yml; notes.txt is not read
    EXPECT_NE(notices[0].find("c-pod.yml:1: Pod default/p: ignored"), std::string::npos)
        << notices[0];
}

TEST(ManifestFormats, TypedListFromJsonString) {
    auto l = from_string(
        "{\"apiVersion\":\"v1\",\"kind\":\"ServiceList\",\"items\":[\n"
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"a\"},"
        "\"spec\":{\"ports\":[{\"port\":53,\"protocol\":\"UDP\",\"targetPort\":5353}]}},\n"
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"b\"},"
        "\"spec\":{\"ports\":[{\"port\":\"x\"}]}}]}\n",
        "l.json");
    EXPECT_EQ(l.errs, Strings{"l.json:3: Service default/b: spec.ports[0].port: Invalid value: "
                              "\"x\": must be an integer"});
    ASSERT_EQ(l.cfg.services.size(), 2u);
    EXPECT_EQ(l.cfg.services[0].ports.at(0).protocol, "UDP");
    EXPECT_EQ(l.cfg.services[0].ports.at(0).targetPort.num, 5353);
}

TEST(ManifestFormats, EndpointsWithoutSubsetsGiveNoSlice) {
    auto l = from_string("apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\n");
    EXPECT_EQ(l.errs, Strings{});
    EXPECT_TRUE(l.cfg.slices.empty());
}

TEST(ManifestFormats, EmptyDocumentsAndCommentsOnly) {
    auto l = from_string("# nothing here\n---\n---\n");
    EXPECT_TRUE(l.ok);
    EXPECT_EQ(l.errs, Strings{});
    EXPECT_TRUE(l.cfg.services.empty());
}

TEST(ManifestFormats, YamlScalarsResolveAsKubernetes) {
    auto l = from_string(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ~}\n"
        "spec:\n  publishNotReadyAddresses: yes\n  ports:\n  - port: 0x50\n"
        "    targetPort: \"web\"\n  sessionAffinity:\n");
    EXPECT_EQ(l.errs, Strings{});
    const Service& s = l.cfg.services.at(0);
    EXPECT_EQ(s.ns, "default");
    EXPECT_TRUE(s.publishNotReadyAddresses);
    EXPECT_EQ(s.ports.at(0).port, 80);
    EXPECT_EQ(s.ports.at(0).targetPort.name, "web");
    EXPECT_EQ(s.sessionAffinity, "None"); // null = unset
}

// ---- errors ------------------------------------------------------------------------------

TEST(ManifestErrors, WrongTypesWithLinesAndPaths) {
    EXPECT_EQ(load_errors("apiVersion: v1\n"
                          "kind: Service\n"
                          "metadata:\n"
                          "  name: web\n"
                          "  labels: {version: 1.0}\n"
                          "spec:\n"
                          "  ports:\n"
                          "  - port: \"80\"\n"
                          "    targetPort: [1]\n"
                          "    nodePort: 4294967296\n"
                          "  - 80\n"
                          "  publishNotReadyAddresses: \"true\"\n"
                          "  externalIPs: 1.2.3.4\n"
                          "  selector: [a]\n"),
              (Strings{
                  "m.yaml:5: Service default/web: metadata.labels[version]: Invalid value: 1.0: "
                  "must be a string",
                  "m.yaml:8: Service default/web: spec.ports[0].port: Invalid value: \"80\": "
                  "must be an integer",
                  "m.yaml:9: Service default/web: spec.ports[0].targetPort: Invalid value: "
                  "[...]: must be an integer or a string",
                  "m.yaml:10: Service default/web: spec.ports[0].nodePort: Invalid value: "
                  "4294967296: must be between -2147483648 and 2147483647, inclusive",
                  "m.yaml:11: Service default/web: spec.ports[1]: Invalid value: 80: must be "
                  "an object",
                  "m.yaml:12: Service default/web: spec.publishNotReadyAddresses: Invalid "
                  "value: \"true\": must be a boolean (true or false)",
                  "m.yaml:13: Service default/web: spec.externalIPs: Invalid value: "
                  "\"1.2.3.4\": must be a list",
                  "m.yaml:14: Service default/web: spec.selector: Invalid value: [...]: must "
                  "be an object",
              }));
}

TEST(ManifestErrors, UnknownAndDuplicateFields) {
    EXPECT_EQ(load_errors("apiVersion: v1\n"
                          "kind: Service\n"
                          "metadata:\n"
                          "  name: web\n"
                          "  colour: red\n"
                          "spec:\n"
                          "  ports:\n"
                          "  - port: 80\n"
                          "    port: 81\n"
                          "    weight: 2\n"
                          "  sessionAffinityConfig: {clientIP: {timeout: 5}}\n"
                          "status: {loadBalancer: {ingress: [{ip: 1.2.3.4, vip: x}]}}\n"
                          "extra: 1\n"),
              (Strings{
                  "m.yaml:5: Service default/web: metadata.colour: unknown field \"colour\"",
                  "m.yaml:9: Service default/web: spec.ports[0].port: duplicate field \"port\"",
                  "m.yaml:10: Service default/web: spec.ports[0].weight: unknown field "
                  "\"weight\"",
                  "m.yaml:11: Service default/web: spec.sessionAffinityConfig.clientIP.timeout: "
                  "unknown field \"timeout\"",
                  "m.yaml:12: Service default/web: status.loadBalancer.ingress[0].vip: unknown "
                  "field \"vip\"",
                  "m.yaml:13: Service default/web: extra: unknown field \"extra\"",
              }));
}

TEST(ManifestErrors, SliceWithoutServiceNameLabel) {
    EXPECT_EQ(load_errors("apiVersion: discovery.k8s.io/v1\n"
                          "kind: EndpointSlice\n"
                          "metadata:\n"
                          "  name: s-1\n"
                          "ports: [{port: 80}]\n"
                          "endpoints:\n"
                          "- addresses: [10.1.0.1]\n"
                          "  weight: 3\n"
                          "  conditions: {ready: maybe}\n"),
              (Strings{
                  "m.yaml:1: EndpointSlice default/s-1: metadata.labels[kubernetes.io/"
                  "service-name]: Required value: the name of the service these endpoints "
                  "belong to",
                  "m.yaml:1: EndpointSlice default/s-1: addressType: Required value",
                  "m.yaml:8: EndpointSlice default/s-1: endpoints[0].weight: unknown field "
                  "\"weight\"",
                  "m.yaml:9: EndpointSlice default/s-1: endpoints[0].conditions.ready: Invalid "
                  "value: \"maybe\": must be a boolean (true or false)",
              }));
}

TEST(ManifestErrors, ApiVersionKindAndShape) {
    EXPECT_EQ(load_errors("apiVersion: discovery.k8s.io/v1beta1\n"
                          "kind: EndpointSlice\n"
                          "metadata: {name: a, labels: {kubernetes.io/service-name: x}}\n"
                          "addressType: IPv4\n"
                          "---\n"
                          "metadata: {name: b}\n"
                          "---\n"
                          "- just a list\n"
                          "---\n"
                          "kind: Service\n"
                          "metadata: {name: c}\n"
                          "---\n"
                          "apiVersion: v1\n"
                          "kind: Service\n"
                          "spec: {}\n"),
              (Strings{
                  "m.yaml:1: EndpointSlice default/a: apiVersion: Unsupported value: "
                  "\"discovery.k8s.io/v1beta1\": supported values: \"discovery.k8s.io/v1\"",
                  "m.yaml:6: kind: Required value",
                  "m.yaml:8: Invalid value: [...]: must be a Kubernetes object (a map with "
                  "apiVersion and kind)",
                  "m.yaml:10: Service default/c: apiVersion: Required value",
                  "m.yaml:10: Service default/c: spec: Required value",
                  "m.yaml:13: Service: metadata: Required value",
              }));
}

TEST(ManifestErrors, SyntaxErrorStopsTheFile) {
    auto l = from_string("apiVersion: v1\nkind: Service\nmetadata: {name: a\nspec: x\n");
    EXPECT_FALSE(l.ok);
    ASSERT_EQ(l.errs.size(), 1u);
    EXPECT_EQ(l.errs[0].rfind("m.yaml:", 0), 0u) << l.errs[0];
    EXPECT_TRUE(l.cfg.services.empty());
}

TEST(ManifestErrors, MissingFile) {
    Config cfg;
    Errors errs;
    Strings notices;
    EXPECT_FALSE(load_manifest_file("/nonexistent/x.yaml", cfg, errs, notices));
    EXPECT_EQ(strs(errs), Strings{"/nonexistent/x.yaml: No such file or directory"});
}

TEST(ManifestErrors, EndpointsShape) {
    EXPECT_EQ(load_errors("apiVersion: v1\n"
                          "kind: Endpoints\n"
                          "metadata: {name: e}\n"
                          "subsets:\n"
                          "- addresses:\n"
                          "  - hostname: h\n"
                          "  - ip: 10.0.5.1\n"
                          "    zone: z\n"
                          "  ports: [{port: x}]\n"),
              (Strings{
                  "m.yaml:6: Endpoints default/e: subsets[0].addresses[0].ip: Required value",
                  "m.yaml:8: Endpoints default/e: subsets[0].addresses[1].zone: unknown field "
                  "\"zone\"",
                  "m.yaml:9: Endpoints default/e: subsets[0].ports[0].port: Invalid value: "
                  "\"x\": must be an integer",
              }));
}

TEST(ManifestErrors, ValidationUsesManifestLines) {
    auto l = from_string("apiVersion: v1\n"
                         "kind: Service\n"
                         "metadata: {name: web}\n"
                         "spec:\n"
                         "  type: NodePort\n"
                         "  clusterIP: 10.1.0.300\n"
                         "  ports:\n"
                         "  - port: 80\n"
                         "    nodePort: 40000\n");
    EXPECT_EQ(l.errs, Strings{});
    Strings v = strs(validate_and_allocate(l.cfg, nullptr));
    ASSERT_FALSE(v.empty());
    bool found = false;
    for (auto& e : v)
        found = found || e == "m.yaml:8: services[0] (default/web): spec.ports[0].nodePort: "
                              "Invalid value: 40000: provided port is not in the valid range. "
                              "The range of valid ports is 30000-32767";
    EXPECT_TRUE(found) << ::testing::PrintToString(v);
}

TEST(ManifestErrors, DeprecatedLoadBalancerIPIsANotice) {
    auto l = from_string("apiVersion: v1\nkind: Service\nmetadata: {name: w}\n"
                         "spec:\n  type: LoadBalancer\n  loadBalancerIP: 192.0.2.1\n"
                         "  ports: [{port: 80}]\n");
    EXPECT_EQ(l.errs, Strings{});
    EXPECT_EQ(l.notices,
              Strings{"m.yaml:6: Service default/w: spec.loadBalancerIP is deprecated and not "
                      "read; svclb serves status.loadBalancer.ingress[].ip"});
}

// ---- the libconfig file's `manifests` key --------------------------------------------------

TEST(ManifestConfigKey, RelativeFileAndDirectory) {
    Errors errs;
    auto cfg = load_config_file(src(kData + "with_manifests.conf"), errs);
    ASSERT_TRUE(cfg.has_value());
    EXPECT_EQ(strs(errs), Strings{});
    Strings names;
    for (auto& s : cfg->services) names.push_back(s.key());
    EXPECT_EQ(names, (Strings{"default/conf-svc", "shop/api", "shop/db", "default/from-dir"}));
    ASSERT_EQ(cfg->slices.size(), 2u);
    EXPECT_EQ(cfg->slices[0].loc.file, src(kData + "multi.yaml"));
    EXPECT_EQ(cfg->slices[1].loc.file, src(kData + "dir/b-slice.json"));
    EXPECT_EQ(strs(validate_and_allocate(*cfg, nullptr)), Strings{});
    // The Pod in dir/ is ignored, and said so.
    ASSERT_EQ(cfg->notices.size(), 1u);
    EXPECT_NE(cfg->notices[0].find("Pod"), std::string::npos) << cfg->notices[0];
}

TEST(ManifestConfigKey, ErrorsNameTheManifest) {
    const std::string dir = ::testing::TempDir() + "svclb_manifest_key";
    std::filesystem::create_directories(dir);
    {
        std::FILE* f = std::fopen((dir + "/bad.yaml").c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs("apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec:\n  port: 1\n", f);
        std::fclose(f);
        f = std::fopen((dir + "/t.conf").c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs("manifests = [ \"bad.yaml\",\n  \"missing.yaml\" ];\n", f);
        std::fclose(f);
    }
    Errors errs;
    auto cfg = load_config_file(dir + "/t.conf", errs);
    ASSERT_TRUE(cfg.has_value());
    EXPECT_EQ(strs(errs),
              (Strings{dir + "/bad.yaml:5: Service default/b: spec.port: unknown field \"port\"",
                       dir + "/t.conf:2: manifests[1]: Invalid value: \"missing.yaml\": no such "
                             "file or directory"}));
    std::filesystem::remove_all(dir);
}

TEST(ManifestConfigKey, WrongType) {
    Errors errs;
    auto cfg = load_config_string("manifests = 3;\n", "t.conf", errs);
    ASSERT_TRUE(cfg.has_value());
    EXPECT_EQ(strs(errs), Strings{"t.conf:1: manifests: Invalid value: 3: must be an array of "
                                  "strings ([ \"...\", ... ])"});
}

}  // namespace
}  // namespace svclb::cp
