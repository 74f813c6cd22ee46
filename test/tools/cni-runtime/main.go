// cni-runtime: the smallest CNI runtime on libcni (the library containerd, CRI-O and podman's CNI
// backend use), for vxnet's tests: it passes the result cache, prevResult, CNI_ARGS and capability
// arguments to plugins exactly as those runtimes do.
//
//	cni-runtime add|check|del NETNAME NETNS   (the network list NETNAME from $NETCONFPATH)
//	cni-runtime validate NETNAME
//
// Environment: NETCONFPATH, CNI_PATH, CNI_CACHE_DIR, CNI_CONTAINERID (default: the netns's base
// name), CNI_IFNAME (eth0), CNI_ARGS ("K=V;K=V"), CAP_ARGS (a JSON object of capability args).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cni-runtime:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: cni-runtime add|check|del NETNAME NETNS | validate NETNAME")
		os.Exit(2)
	}
	ctx := context.Background()
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(getenv("CNI_PATH", "/opt/cni/bin")), getenv("CNI_CACHE_DIR", "/var/lib/cni"), nil)
	list, err := libcni.LoadConfList(getenv("NETCONFPATH", "/etc/cni/net.d"), os.Args[2])
	if err != nil {
		fail(err)
	}
	if os.Args[1] == "validate" {
		caps, err := cni.ValidateNetworkList(ctx, list)
		if err != nil {
			fail(err)
		}
		fmt.Println("valid; capabilities:", caps)
		return
	}
	if len(os.Args) < 4 {
		fail(fmt.Errorf("%s needs NETNAME NETNS", os.Args[1]))
	}
	netns, _ := filepath.Abs(os.Args[3])
	rt := &libcni.RuntimeConf{ContainerID: getenv("CNI_CONTAINERID", filepath.Base(netns)), NetNS: netns, IfName: getenv("CNI_IFNAME", "eth0")}
	for _, kv := range strings.Split(os.Getenv("CNI_ARGS"), ";") {
		if kv == "" {
			continue
		}
		p := strings.SplitN(kv, "=", 2)
		if len(p) != 2 {
			fail(fmt.Errorf("bad CNI_ARGS pair %q", kv))
		}
		rt.Args = append(rt.Args, [2]string{p[0], p[1]})
	}
	if c := os.Getenv("CAP_ARGS"); c != "" {
		if err := json.Unmarshal([]byte(c), &rt.CapabilityArgs); err != nil {
			fail(fmt.Errorf("CAP_ARGS: %v", err))
		}
	}
	switch os.Args[1] {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
		fmt.Println("check ok")
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
		fmt.Println("del ok")
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}
