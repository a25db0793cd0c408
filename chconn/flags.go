package chconn

import (
	"flag"
	"strings"
)

// RegisterFlags binds the -ch-* flags to s. The flags' defaults are s's current
// values, so call it on FromEnv(os.Getenv) to let flags override the environment:
//
//	s := chconn.FromEnv(os.Getenv)
//	s.RegisterFlags(flag.CommandLine)
//	flag.Parse()
//	if err := s.Validate(); err != nil { ... }
func (s *Settings) RegisterFlags(fs *flag.FlagSet) {
	fs.Var((*addrList)(&s.Addr), "ch-addr", "ClickHouse native-protocol addresses, comma separated (env "+EnvAddr+")")
	fs.StringVar(&s.Database, "ch-database", s.Database, "ClickHouse database (env "+EnvDatabase+")")
	fs.StringVar(&s.Username, "ch-user", s.Username, "ClickHouse user (env "+EnvUser+")")
	// The default is not shown in -help output so that a password from the
	// environment never ends up on a terminal.
	fs.Var((*secret)(&s.Password), "ch-password", "ClickHouse password (env "+EnvPassword+")")
	fs.BoolVar(&s.Secure, "ch-secure", s.Secure, "connect to ClickHouse with TLS (env "+EnvSecure+")")
	fs.DurationVar(&s.QueryTimeout, "ch-query-timeout", s.QueryTimeout, "deadline of one ClickHouse query (env "+EnvQueryTimeout+")")
}

type addrList []string

func (a *addrList) String() string {
	if a == nil {
		return ""
	}
	return strings.Join(*a, ",")
}

func (a *addrList) Set(v string) error {
	*a = SplitAddrs(v)
	return nil
}

type secret string

func (p *secret) String() string { return "" }

func (p *secret) Set(v string) error {
	*p = secret(v)
	return nil
}
