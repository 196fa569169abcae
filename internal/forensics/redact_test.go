package forensics

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"nil", nil, nil},
		{"empty", []string{}, []string{}},
		{"nothing secret", []string{"/usr/bin/app", "--port=8080", "-v", "serve"}, []string{"/usr/bin/app", "--port=8080", "-v", "serve"}},
		{"password equals", []string{"app", "--password=hunter2"}, []string{"app", "--password=***"}},
		{"password next arg", []string{"app", "--password", "hunter2", "--port", "80"}, []string{"app", "--password", "***", "--port", "80"}},
		{"single dash password next arg", []string{"app", "-password", "hunter2"}, []string{"app", "-password", "***"}},
		{"password then a flag is not swallowed", []string{"app", "--password", "--verbose"}, []string{"app", "--password", "--verbose"}},
		{"password last", []string{"app", "--password"}, []string{"app", "--password"}},
		{"db-password", []string{"app", "--db-password=s3cr3t"}, []string{"app", "--db-password=***"}},
		{"token lower", []string{"app", "token=abc123"}, []string{"app", "token=***"}},
		{"token flag next", []string{"app", "--token", "ghp_abc"}, []string{"app", "--token", "***"}},
		{"api key flag", []string{"app", "--api-key=k-123"}, []string{"app", "--api-key=***"}},
		{"env KEY", []string{"env", "AWS_ACCESS_KEY=AKIA123", "app"}, []string{"env", "AWS_ACCESS_KEY=***", "app"}},
		{"env SECRET", []string{"AWS_SECRET_ACCESS_KEY=wJalr/K7+MDENG=="}, []string{"AWS_SECRET_ACCESS_KEY=***"}},
		{"env TOKEN", []string{"GITHUB_TOKEN=ghp_x"}, []string{"GITHUB_TOKEN=***"}},
		{"env PASSWORD", []string{"PGPASSWORD=pw"}, []string{"PGPASSWORD=***"}},
		{"not a key: keyboard", []string{"KEYBOARD=us", "--monkey=1", "--bypass=yes", "--passage=2"}, []string{"KEYBOARD=us", "--monkey=1", "--bypass=yes", "--passage=2"}},
		{"a file that holds a secret stays", []string{"--password-file=/run/secrets/db", "--token-file", "/run/t"}, []string{"--password-file=/run/secrets/db", "--token-file", "/run/t"}},
		{"no- prefix is a switch", []string{"--no-password", "serve"}, []string{"--no-password", "serve"}},
		{"authorization header arg", []string{"curl", "-H", "Authorization: Bearer eyJhbGciOi.x.y", "https://api"}, []string{"curl", "-H", "Authorization: Bearer ***", "https://api"}},
		{"authorization basic", []string{"curl", "-H", "authorization:Basic dXNlcjpwYXNz"}, []string{"curl", "-H", "authorization:Basic ***"}},
		{"x-api-key header", []string{"-H", "X-Api-Key: abc"}, []string{"-H", "X-Api-Key: ***"}},
		{"url credentials", []string{"app", "--db=postgres://admin:hunter2@db:5432/app"}, []string{"app", "--db=postgres://admin:***@db:5432/app"}},
		{"url empty user", []string{"redis://:pw@cache:6379"}, []string{"redis://:***@cache:6379"}},
		{"url without password stays", []string{"https://user@host/x", "http://host:8080/"}, []string{"https://user@host/x", "http://host:8080/"}},
		{"url query token", []string{"https://h/p?x=1&token=abc&y=2"}, []string{"https://h/p?x=1&token=***&y=2"}},
		{"empty value", []string{"--password="}, []string{"--password="}},
		{"empty arg after flag", []string{"--password", ""}, []string{"--password", ""}},
		{"unicode", []string{"appé", "--pässword=x", "SECRET=ü"}, []string{"appé", "--pässword=x", "SECRET=***"}},
		{"java property", []string{"-Ddb.password=x", "-Dfoo=bar"}, []string{"-Ddb.password=***", "-Dfoo=bar"}},
		{"client secret", []string{"--client-secret", "cs", "--client-id", "ci"}, []string{"--client-secret", "***", "--client-id", "ci"}},
		{"pair inside harmless value", []string{"--opts=a=1,token=x"}, []string{"--opts=a=1,token=***"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Redact(%q) -want +got:\n%s", tt.in, diff)
			}
		})
	}
}

func TestRedactDoesNotChangeItsInput(t *testing.T) {
	in := []string{"--password", "x", "token=y"}
	_ = Redact(in)
	if diff := cmp.Diff([]string{"--password", "x", "token=y"}, in); diff != "" {
		t.Errorf("input changed:\n%s", diff)
	}
}

func TestRedactLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "app serve --port 80", "app serve --port 80"},
		{"password equals", "app --password=hunter2 --v", "app --password=*** --v"},
		{"password space", "app --password hunter2 --v", "app --password *** --v"},
		{"token", "worker token=abc123 x", "worker token=*** x"},
		{"env", "FOO=1 MY_API_KEY=k BAR_SECRET=s CI_JOB_TOKEN=t app", "FOO=1 MY_API_KEY=*** BAR_SECRET=*** CI_JOB_TOKEN=*** app"},
		{"authorization", "curl -H 'Authorization: Bearer abc.def' https://x", "curl -H 'Authorization: Bearer ***' https://x"},
		{"authorization quoted value", `Authorization: "Token abc"`, `Authorization: ***`},
		{"cookie", "Cookie: session=abc123", "Cookie: ***"},
		{"url", "connecting to mysql://root:toor@10.0.0.1/db failed", "connecting to mysql://root:***@10.0.0.1/db failed"},
		{"json", `{"user":"bob","password":"hunter2","n":1}`, `{"user":"bob","password":"***","n":1}`},
		{"yaml-ish", "password: hunter2", "password: ***"},
		{"log words stay", "the token expired; retrying with key rotation", "the token expired; retrying with key rotation"},
		{"time stays", "at 12:30:45 host: up", "at 12:30:45 host: up"},
		{"already masked", "--password=*** token=***", "--password=*** token=***"},
		{"several", "a --password=x --token y z", "a --password=*** --token *** z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, RedactLine(tt.in)); diff != "" {
				t.Errorf("RedactLine(%q) -want +got:\n%s", tt.in, diff)
			}
		})
	}
}

func TestRedactLineIsIdempotent(t *testing.T) {
	for _, s := range []string{
		"app --password=hunter2 token=abc https://u:p@h/ Authorization: Bearer x",
		"PGPASSWORD=x psql -h db",
	} {
		once := RedactLine(s)
		if twice := RedactLine(once); twice != once {
			t.Errorf("RedactLine not idempotent:\n once %q\ntwice %q", once, twice)
		}
		if strings.Contains(once, "hunter2") {
			t.Errorf("secret left in %q", once)
		}
	}
}

func FuzzRedactLine(f *testing.F) {
	for _, s := range []string{"--password=x", "a=b=c", "Authorization: Bearer x", "http://u:p@h", "\x00=\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := RedactLine(s)
		if len(once) > len(s)+len(Mask)*len(s) {
			t.Fatalf("RedactLine(%q) grew to %d bytes", s, len(once))
		}
	})
}
