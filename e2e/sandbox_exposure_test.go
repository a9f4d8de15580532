package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/handover-relay/handover/internal/testkit"
)

// The sandbox is a fake Genesys with an agent desk and fault switches: a
// start with a public URL has none unless HANDOVER_SANDBOX asks for it, and
// then the log says so loudly (docs/security.md).
func TestAStartWithAPublicURLHasNoSandboxUnlessAskedFor(t *testing.T) {
	for _, asked := range []bool{false, true} {
		addr := testkit.FreeAddr(t)
		env := map[string]string{"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": "sqlite:" + t.TempDir() + "/h.db",
			"HANDOVER_ADMIN_PASSWORD": "pw-for-the-test", "HANDOVER_PUBLIC_URL": "http://handover.example.com"} // not https: the test signs in over plain HTTP
		if asked {
			env["HANDOVER_SANDBOX"] = "true"
		}
		logs, stop := startServer(t, env)
		resp, err := http.Get("http://" + addr + "/sandbox/genesys/api/v2/notifications/channels")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mounted := resp.StatusCode != http.StatusNotFound
		warned := strings.Contains(startLogged(t, logs), "THE GENESYS SANDBOX IS ON")
		if mounted != asked || warned != asked {
			t.Errorf("HANDOVER_SANDBOX asked %v: sandbox API answered %d, warning in the log %v", asked, resp.StatusCode, warned)
		}
		// Every console page says so too.
		client := testkit.SignedInClient(t, "http://"+addr, "admin", "pw-for-the-test")
		if banner := strings.Contains(httpGetWith(t, client, "http://"+addr+"/"), `data-testid="sandbox-exposed"`); banner != asked {
			t.Errorf("HANDOVER_SANDBOX asked %v: the console's banner shown %v", asked, banner)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
