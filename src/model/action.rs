//! The kinds of fenced block litops executes. Every other info string is prose.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
  Sh,
  Bash,
  Zsh,
}

/// Languages Runme runs through their interpreter (a Runme document's
/// cells; a litops document's blocks only with step attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
  Python,
  JavaScript,
  TypeScript,
  Ruby,
  Perl,
  Php,
  Lua,
  Go,
}

impl Language {
  pub fn from_word(word: &str) -> Option<Self> {
    Some(match word {
      "python" | "py" => Self::Python,
      "javascript" | "js" => Self::JavaScript,
      "typescript" | "ts" => Self::TypeScript,
      "ruby" | "rb" => Self::Ruby,
      "perl" => Self::Perl,
      "php" => Self::Php,
      "lua" => Self::Lua,
      "go" => Self::Go,
      _ => return None,
    })
  }

  pub fn name(self) -> &'static str {
    match self {
      Self::Python => "python",
      Self::JavaScript => "javascript",
      Self::TypeScript => "typescript",
      Self::Ruby => "ruby",
      Self::Perl => "perl",
      Self::Php => "php",
      Self::Lua => "lua",
      Self::Go => "go",
    }
  }

  /// The programs that run a file of this language, the first installed
  /// one used: what Runme tries.
  pub fn programs(self) -> &'static [&'static [&'static str]] {
    match self {
      Self::Python => &[&["python3"], &["python"]],
      Self::JavaScript => &[&["node"]],
      Self::TypeScript => &[&["ts-node"], &["deno", "run"], &["bun", "run"]],
      Self::Ruby => &[&["ruby"]],
      Self::Perl => &[&["perl"]],
      Self::Php => &[&["php"]],
      Self::Lua => &[&["lua"]],
      Self::Go => &[&["go", "run"]],
    }
  }

  /// The file name ending its interpreter expects (`go run` insists).
  pub fn extension(self) -> &'static str {
    match self {
      Self::Python => "py",
      Self::JavaScript => "js",
      Self::TypeScript => "ts",
      Self::Ruby => "rb",
      Self::Perl => "pl",
      Self::Php => "php",
      Self::Lua => "lua",
      Self::Go => "go",
    }
  }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
  Shell(Shell),
  /// A program in another language, run by its interpreter.
  Program(Language),
  Rhai,
  LogsInsights,
  Ecs,
  Ecr,
  Rds,
  CloudWatch,
  DynamoDb,
  Elb,
  Http,
  Notify,
  Quotas,
}

impl ActionKind {
  /// Every word an info string can start with to be an action.
  pub const WORDS: &[&str] = &[
    "sh",
    "shell",
    "bash",
    "zsh",
    "rhai",
    "logs-insights",
    "ecs",
    "ecr",
    "rds",
    "cloudwatch",
    "dynamodb",
    "elb",
    "http",
    "notify",
    "quotas",
  ];

  pub fn from_word(word: &str) -> Option<Self> {
    Some(match word {
      "sh" | "shell" => Self::Shell(Shell::Sh),
      "bash" => Self::Shell(Shell::Bash),
      "zsh" => Self::Shell(Shell::Zsh),
      "rhai" => Self::Rhai,
      "logs-insights" => Self::LogsInsights,
      "ecs" => Self::Ecs,
      "ecr" => Self::Ecr,
      "rds" => Self::Rds,
      "cloudwatch" => Self::CloudWatch,
      "dynamodb" => Self::DynamoDb,
      "elb" => Self::Elb,
      "http" => Self::Http,
      "notify" => Self::Notify,
      "quotas" => Self::Quotas,
      _ => return None,
    })
  }

  pub fn name(self) -> &'static str {
    match self {
      Self::Shell(Shell::Sh) => "sh",
      Self::Shell(Shell::Bash) => "bash",
      Self::Shell(Shell::Zsh) => "zsh",
      Self::Program(language) => language.name(),
      Self::Rhai => "rhai",
      Self::LogsInsights => "logs-insights",
      Self::Ecs => "ecs",
      Self::Ecr => "ecr",
      Self::Rds => "rds",
      Self::CloudWatch => "cloudwatch",
      Self::DynamoDb => "dynamodb",
      Self::Elb => "elb",
      Self::Http => "http",
      Self::Notify => "notify",
      Self::Quotas => "quotas",
    }
  }

  /// `http` bodies start with `METHOD URL`; the rest is YAML. Returns the
  /// method (uppercased), the URL and the YAML part.
  pub fn http_request_line(body: &str) -> (String, &str, &str) {
    let (first, rest) = body.split_once('\n').unwrap_or((body, ""));
    let mut words = first.split_whitespace();
    let method = words.next().unwrap_or("").to_uppercase();
    let url = words.next().unwrap_or("");
    (method, url, rest)
  }

  /// Attributes a kind accepts besides the common ones.
  pub fn options(self) -> &'static [&'static str] {
    match self {
      Self::LogsInsights => &["log-groups", "since", "start", "end", "limit"],
      _ => &[],
    }
  }

  /// The fields a YAML body accepts. `check` holds runbooks to them before
  /// anything runs, so a typo is an error rather than an ignored setting.
  pub fn fields(self) -> &'static [&'static str] {
    match self {
      Self::Ecs => &[
        "action",
        "cluster",
        "service",
        "services",
        "status",
        "desired",
        "wait",
        "timeout",
        "container",
        "image",
        "tag",
      ],
      Self::CloudWatch => &[
        "action",
        "state",
        "prefix",
        "namespace",
        "metric",
        "dimensions",
        "stat",
        "period",
        "since",
        "threshold",
        "baseline",
        "dashboard",
      ],
      Self::DynamoDb => &[
        "action", "table", "index", "read", "write", "wait", "timeout",
      ],
      Self::Elb => &["action", "target-group", "load-balancer", "min-days"],
      Self::Ecr => &["action", "image", "cluster", "service"],
      Self::Rds => &["action", "instance", "max-age", "since"],
      Self::Notify => &["topic", "webhook", "message", "subject"],
      Self::Quotas => &["services", "quotas", "max-percent", "since"],
      Self::Http => &[
        "headers",
        "expect-status",
        "max-latency",
        "expect-body",
        "body",
      ],
      Self::LogsInsights | Self::Shell(_) | Self::Program(_) | Self::Rhai => &[],
    }
  }

  /// The values `action:` takes, for kinds that have one.
  pub fn actions(self) -> &'static [&'static str] {
    match self {
      Self::Ecs => &[
        "describe",
        "tasks",
        "task-definition",
        "scaling",
        "deployments",
        "secrets",
        "scaling-activities",
        "scale",
        "redeploy",
        "deploy-image",
      ],
      Self::CloudWatch => &["alarms", "metric", "alarm-history", "dashboard"],
      Self::DynamoDb => &[
        "describe",
        "capacity",
        "contributor-insights",
        "autoscaling",
      ],
      Self::Elb => &["targets", "target-group", "listeners"],
      Self::Ecr => &["image"],
      Self::Rds => &["instances", "snapshots", "events", "performance-insights"],
      _ => &[],
    }
  }

  /// The values of `action:` that change something; every other value in
  /// `actions` only reads.
  pub fn changes(self) -> &'static [&'static str] {
    match self {
      Self::Ecs => &["scale", "redeploy", "deploy-image"],
      Self::DynamoDb => &["capacity"],
      _ => &[],
    }
  }

  /// Declarative kinds have a body of data with `{{ name }}` templates;
  /// shell and rhai bodies are code and are never rewritten.
  pub fn is_declarative(self) -> bool {
    !matches!(self, Self::Shell(_) | Self::Program(_) | Self::Rhai)
  }

  /// Whether the kind calls AWS (and so needs the account context).
  pub fn is_aws(self) -> bool {
    // A notification reaches AWS only for an SNS topic, and connects then.
    self.is_declarative() && !matches!(self, Self::Http | Self::Notify)
  }

  /// Whether a declarative body describes a change, from its `action:` or
  /// `method:` field. An unknown or templated value counts as a change.
  pub fn body_mutates(self, body: &serde_yaml::Value) -> bool {
    let field = |name: &str| {
      body
        .get(name)
        .and_then(|v| v.as_str())
        .map(str::to_lowercase)
    };
    match self {
      Self::Ecs | Self::DynamoDb => field("action").is_none_or(|action| {
        !self.actions().contains(&action.as_str()) || self.changes().contains(&action.as_str())
      }),
      // It reaches people.
      Self::Http | Self::Notify => true,
      Self::LogsInsights | Self::CloudWatch | Self::Elb | Self::Ecr | Self::Rds | Self::Quotas => {
        false
      }
      Self::Shell(_) | Self::Program(_) => true,
      Self::Rhai => false,
    }
  }
}
