package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// SandboxGreeting is what the sandbox's inbound message flow says before
// Transfer to ACD, as the setup assistant suggests.
const SandboxGreeting = "Connecting you with an agent. Please wait…"

// Sandbox set-up: one OAuth client, one queue and one Open Messaging
// integration whose webhook points back at this process.
const (
	sandboxEndpointName = "Sandbox"
	sandboxDeployment   = "Handover Sandbox"
	SandboxQueueID      = "5a0d9a3e-1c2b-4d5e-8f90-a1b2c3d4e5f6"
	sandboxClientID     = "sandbox-client"
)

// seedSandbox makes the "Sandbox" endpoint ready to hand over to the sandbox,
// creating it on first start. The sandbox keeps no state across restarts, so
// handovers still open from a previous run are ended.
func (s *App) seedSandbox(ctx context.Context) error {
	org, err := s.Store.OrganisationByName(ctx, store.DefaultOrganisation)
	if err != nil {
		return err
	}
	endpoints, err := s.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	var e *store.Endpoint
	for i := range endpoints {
		if endpoints[i].Name == sandboxEndpointName && endpoints[i].OrganisationID == org.ID {
			e = &endpoints[i]
		}
	}
	if e == nil {
		e = &store.Endpoint{
			OrganisationID: org.ID, Name: sandboxEndpointName, URLToken: secret.NewToken(32), Provider: store.ProviderGenesysCloudOM,
			Host: s.LocalURL + paths.Sandbox, DeploymentName: sandboxDeployment, QueueID: SandboxQueueID,
			ClientID: sandboxClientID, ClientSecret: secret.NewToken(24), WebhookSecret: secret.NewToken(24),
			SendProfile: true, DefaultLanguage: "english", DefaultSkills: []string{"support"}, DefaultPriority: 5,
			DefaultCustomAttributes: map[string]string{"source": "handover-demo"}, RelayTyping: true,
			Waiting: sandboxWaiting(), DemoChat: true,
		}
		if err := s.Store.CreateEndpoint(ctx, e); err != nil {
			return fmt.Errorf("create the Sandbox endpoint: %w", err)
		}
		// The URL token is the bot's credential: the log names the console
		// page that shows it, never the token (docs/privacy.md).
		s.log.Info("created the Sandbox endpoint", slog.String("endpoint", s.cfg.PublicURL+"/endpoints/"+strconv.FormatInt(e.ID, 10)))
	} else if e.Host != s.LocalURL+paths.Sandbox {
		// The listen address changed since the endpoint was made.
		e.Host = s.LocalURL + paths.Sandbox
		if err := s.Store.UpdateEndpoint(ctx, e); err != nil {
			return err
		}
	}
	s.Sandbox.AddClient(e.ClientID, e.ClientSecret)
	s.Sandbox.AddQueue(e.QueueID, "Support")
	integration := s.Sandbox.AddIntegration(e.DeploymentName, s.LocalURL+paths.GenesysWebhook, e.WebhookSecret)
	if err := s.Store.SetEndpointIntegration(ctx, e.ID, integration.ID, ""); err != nil {
		return err
	}
	open, err := s.Store.OpenConversationsWithGenesysID(ctx, 100000)
	if err != nil {
		return err
	}
	for _, conv := range open {
		if conv.EndpointID == e.ID {
			if _, err := s.Store.EndConversation(ctx, conv.ID, store.StateEnded, "sandbox_restarted", s.Store.Now()); err != nil {
				return err
			}
		}
	}
	return nil
}

// sandboxWaiting is what the demo's endpoint tells a waiting user: the
// defaults, with words for the handover and the wait, so that the demo chat
// shows them.
func sandboxWaiting() store.WaitingSettings {
	w := store.DefaultWaiting()
	w.QueueUpdateSeconds = 30
	w.Messages[store.MessageAccepted] = "You are in the queue for an agent. The estimated wait is {wait}."
	w.Messages[store.MessageStillWaiting] = "Still waiting for an agent: {waiting} in the queue, about {wait} to go."
	w.Messages[store.MessageNoAgents] = "No agent is On Queue right now. You can keep waiting, or come back later."
	return w
}
