package kube

import (
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config says which cluster to ask, as kubectl's flags do.
type Config struct {
	// Kubeconfig is a kubeconfig file (--kubeconfig); empty: KUBECONFIG,
	// else ~/.kube/config, else the in-cluster service account.
	Kubeconfig string
	// Context is the kubeconfig context to use (--context); empty: its
	// current context.
	Context string
	// UserAgent names the tool in the API server's logs and audit.
	UserAgent string
}

// Client is a connection to one cluster's API server. It is safe for
// concurrent use.
type Client struct {
	core   *rest.RESTClient // /api/v1
	apps   *rest.RESTClient // /apis/apps/v1
	params runtime.ParameterCodec
	host   string
	ctx    string // the kubeconfig context in use; "" in-cluster
	user   string // who the kubeconfig says we are, for messages
}

// scheme holds the few types this client reads and writes.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, autoscalingv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // the types are compiled in: cannot fail
		}
	}
	metav1.AddToGroupVersion(s, metav1.SchemeGroupVersion)
	return s
}()

var codecs = serializer.NewCodecFactory(scheme)

// New returns a client for the cluster cfg names. It does not connect: a
// server that is down is told by the first request.
func New(cfg Config) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = cfg.Kubeconfig
	}
	over := &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, over)
	rc, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %s", oneLine(err.Error()))
	}
	c := &Client{params: runtime.NewParameterCodec(scheme), host: rc.Host}
	if raw, err := loader.RawConfig(); err == nil {
		c.ctx = raw.CurrentContext
		if cfg.Context != "" {
			c.ctx = cfg.Context
		}
		if kc := raw.Contexts[c.ctx]; kc != nil {
			c.user = kc.AuthInfo
		}
	}
	rc.UserAgent = cfg.UserAgent
	if rc.UserAgent == "" {
		rc.UserAgent = "sre-kube"
	}
	// Watching many pods and acting on a few: client-go's default 5 QPS
	// would delay an owner lookup behind a burst of others.
	rc.QPS, rc.Burst = 50, 100
	if c.core, err = restClient(rc, "/api", corev1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	if c.apps, err = restClient(rc, "/apis", appsv1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	return c, nil
}

func restClient(base *rest.Config, apiPath string, gv schema.GroupVersion) (*rest.RESTClient, error) {
	rc := rest.CopyConfig(base)
	rc.APIPath, rc.GroupVersion = apiPath, &gv
	rc.NegotiatedSerializer = codecs.WithoutConversion()
	c, err := rest.RESTClientFor(rc)
	if err != nil {
		return nil, fmt.Errorf("API server %s: %s", base.Host, oneLine(err.Error()))
	}
	return c, nil
}

// Host is the API server's address.
func (c *Client) Host() string { return c.host }

// Context is the kubeconfig context in use ("" in-cluster).
func (c *Client) Context() string { return c.ctx }

// IsNotFound reports an answer that the object does not exist.
func IsNotFound(err error) bool { return apierrors.IsNotFound(err) }

// IsForbidden reports an answer that RBAC denies the request.
func IsForbidden(err error) bool { return apierrors.IsForbidden(err) }

// Why is err in one line for a person: the API server's own message
// (which names the verb, resource and namespace RBAC denied), or what
// failed on the way to it.
func Why(err error) string {
	if err == nil {
		return ""
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		msg := s.Message
		if msg == "" {
			msg = string(s.Reason)
		}
		switch {
		case apierrors.IsForbidden(err):
			return "forbidden: " + oneLine(strings.TrimSuffix(msg, "."))
		case apierrors.IsUnauthorized(err):
			return "unauthorized: the API server does not accept these credentials (" + oneLine(msg) + ")"
		}
		return oneLine(msg)
	}
	return oneLine(err.Error())
}

// oneLine folds a message onto one line and bounds it.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
