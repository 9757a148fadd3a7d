//! The Markdown walk: code blocks and task items with their offsets, the
//! heading path above them and the prose just before them.

use std::sync::Arc;

use pulldown_cmark::{CodeBlockKind, Event, MetadataBlockKind, Options, Parser, Tag, TagEnd};

use crate::source::Span;

#[derive(Debug, Default)]
pub struct Document {
  pub front_matter: Option<FrontMatter>,
  pub items: Vec<Item>,
}

#[derive(Debug)]
pub struct FrontMatter {
  pub text: String,
  /// Span of the YAML between the `---` lines.
  pub span: Span,
}

#[derive(Debug)]
pub enum Item {
  Code(CodeBlock),
  Task(Task),
}

#[derive(Debug, Clone, Default)]
pub struct Context {
  pub headings: Arc<[String]>,
  pub prose: Option<Arc<str>>,
  /// Where that paragraph starts: a step shows it only when it comes after
  /// the step before.
  pub prose_at: usize,
}

#[derive(Debug)]
pub struct CodeBlock {
  /// From the opening fence to the end of the closing fence.
  pub span: Span,
  /// `None` for an indented block.
  pub fence: Option<Fence>,
  pub body: String,
  pub body_start: usize,
  pub list_depth: usize,
  pub blockquote_depth: usize,
  pub context: Context,
}

#[derive(Debug)]
pub struct Fence {
  pub info: String,
  pub info_span: Span,
  pub closed: bool,
}

#[derive(Debug)]
pub struct Task {
  pub span: Span,
  pub text: String,
  pub checked: bool,
  pub context: Context,
}

const OPTIONS: Options = Options::ENABLE_TABLES
  .union(Options::ENABLE_TASKLISTS)
  .union(Options::ENABLE_YAML_STYLE_METADATA_BLOCKS)
  .union(Options::ENABLE_STRIKETHROUGH);

#[derive(Default)]
struct Walk {
  doc: Document,
  headings: Vec<(usize, String)>,
  heading_path: Arc<[String]>,
  prose: Option<(Arc<str>, usize)>,
  /// Inline text of the paragraph or list item being read, and where it starts.
  text: String,
  text_at: usize,
  in_heading: bool,
  in_metadata: Option<usize>,
  code: Option<CodeBlock>,
  list_depth: usize,
  blockquote_depth: usize,
  /// Open task items: index into `doc.items` and the list depth they live at.
  tasks: Vec<(usize, usize)>,
}

pub fn parse(text: &str) -> Document {
  let mut walk = Walk::default();
  for (event, range) in Parser::new_ext(text, OPTIONS).into_offset_iter() {
    walk.event(text, event, Span::new(range.start, range.end));
  }
  walk.doc
}

impl Walk {
  fn context(&self) -> Context {
    Context {
      headings: self.heading_path.clone(),
      prose: self.prose.as_ref().map(|(p, _)| p.clone()),
      prose_at: self.prose.as_ref().map_or(0, |(_, at)| *at),
    }
  }

  fn flush_prose(&mut self) {
    let text = self.text.trim();
    if !text.is_empty() {
      self.prose = Some((Arc::from(text), self.text_at));
    }
    self.text.clear();
  }

  fn event(&mut self, src: &str, event: Event, span: Span) {
    if let Some(code) = &mut self.code {
      match event {
        Event::Text(t) => {
          if code.body.is_empty() {
            code.body_start = span.start;
          }
          code.body.push_str(&t);
        }
        Event::End(TagEnd::CodeBlock) => {
          if let Some(code) = self.code.take() {
            self.doc.items.push(Item::Code(code));
          }
        }
        _ => {}
      }
      return;
    }
    match event {
      Event::Start(Tag::MetadataBlock(MetadataBlockKind::YamlStyle)) => {
        self.in_metadata = Some(span.start);
      }
      Event::Text(t)
        if self.in_metadata.is_some()
        // A `---` block is only front matter at the very top of the file;
        // further down it is a thematic break the extension misreads.
        && self.in_metadata == Some(0) =>
      {
        self.doc.front_matter = Some(FrontMatter {
          text: t.to_string(),
          span,
        });
      }
      Event::End(TagEnd::MetadataBlock(_)) => {
        if self.in_metadata == Some(0) && self.doc.front_matter.is_none() {
          let start = src.find('\n').map_or(src.len(), |i| i + 1);
          self.doc.front_matter = Some(FrontMatter {
            text: String::new(),
            span: Span::new(start, start),
          });
        }
        self.in_metadata = None;
      }
      Event::Start(Tag::Heading { .. }) => {
        self.flush_prose();
        self.in_heading = true;
      }
      Event::End(TagEnd::Heading(level)) => {
        self.in_heading = false;
        let level = level as usize;
        let title = std::mem::take(&mut self.text).trim().to_string();
        self.headings.retain(|(l, _)| *l < level);
        self.headings.push((level, title));
        self.heading_path = self.headings.iter().map(|(_, t)| t.clone()).collect();
        self.prose = None;
      }
      Event::Start(Tag::CodeBlock(kind)) => {
        self.flush_prose();
        let fence = match kind {
          CodeBlockKind::Fenced(info) => Some(fence(src, span, &info)),
          CodeBlockKind::Indented => None,
        };
        // Overwritten by the first text event; this is where an empty body sits.
        let body_start = match fence {
          Some(_) => src[span.start..]
            .find('\n')
            .map_or(span.end, |i| span.start + i + 1),
          None => span.start,
        };
        self.code = Some(CodeBlock {
          span,
          fence,
          body: String::new(),
          body_start,
          list_depth: self.list_depth,
          blockquote_depth: self.blockquote_depth,
          context: self.context(),
        });
      }
      Event::Start(Tag::List(_)) => {
        self.flush_prose();
        self.list_depth += 1;
      }
      Event::End(TagEnd::List(_)) => {
        self.list_depth = self.list_depth.saturating_sub(1);
      }
      Event::Start(Tag::BlockQuote(_)) => {
        self.flush_prose();
        self.blockquote_depth += 1;
      }
      Event::End(TagEnd::BlockQuote(_)) => {
        self.flush_prose();
        self.blockquote_depth = self.blockquote_depth.saturating_sub(1);
      }
      Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Item) => {
        // A checklist item's text is its step, not prose for the next one.
        let in_task = self
          .tasks
          .last()
          .is_some_and(|&(_, depth)| depth == self.list_depth);
        if in_task {
          self.text.clear();
          if matches!(event, Event::End(TagEnd::Item)) {
            self.tasks.pop();
          }
        } else {
          self.flush_prose();
        }
      }
      Event::TaskListMarker(checked) => {
        self.text.clear();
        // The marker comes right after the item's start; the item's span
        // is the one the author sees as `- [ ]`.
        let start = line_start(src, span.start);
        self.tasks.push((self.doc.items.len(), self.list_depth));
        self.doc.items.push(Item::Task(Task {
          span: Span::new(start, span.end),
          text: String::new(),
          checked,
          context: self.context(),
        }));
      }
      Event::Text(t) | Event::Code(t) => {
        if self.text.is_empty() {
          self.text_at = span.start;
        }
        self.inline(&t);
      }
      Event::SoftBreak | Event::HardBreak => self.inline(" "),
      _ => {}
    }
  }

  fn inline(&mut self, t: &str) {
    self.text.push_str(t);
    if self.in_heading {
      return;
    }
    if let Some(&(index, depth)) = self.tasks.last()
      && depth == self.list_depth
      && let Some(Item::Task(task)) = self.doc.items.get_mut(index)
    {
      task.text.push_str(t);
    }
  }
}

fn line_start(src: &str, offset: usize) -> usize {
  src[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// Where the info string sits on the opening line, and whether a closing
/// fence exists (CommonMark runs an unclosed fence to the end of the file).
fn fence(src: &str, span: Span, info: &str) -> Fence {
  let block = &src[span.start..span.end];
  let opening = block.lines().next().unwrap_or("");
  let lead = opening.len() - opening.trim_start_matches([' ', '\t', '>']).len();
  let marker = opening[lead..].chars().next().unwrap_or('`');
  let run = opening[lead..].len() - opening[lead..].trim_start_matches(marker).len();
  let after = lead + run;
  let info_offset = after + (opening[after..].len() - opening[after..].trim_start().len());
  let info_start = span.start + info_offset;
  let trimmed = block.trim_end_matches(['\n', '\r']);
  let closed = trimmed.contains('\n') && {
    let last = trimmed.rsplit('\n').next().unwrap_or("");
    let last = last.trim_start_matches([' ', '\t', '>']).trim_end();
    last.len() >= run && last.chars().all(|c| c == marker)
  };
  Fence {
    info: info.to_string(),
    info_span: Span::new(info_start, info_start + info.trim_end().len()),
    closed,
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::source::Source;
  use std::path::Path;

  fn items(text: &str) -> Vec<(String, usize)> {
    let src = Source::new(Path::new("t.md"), text.into());
    parse(&src.text)
      .items
      .iter()
      .map(|item| match item {
        Item::Code(c) => (
          format!(
            "code:{}",
            c.fence.as_ref().map_or("<indented>", |f| f.info.as_str())
          ),
          src.line(c.span.start),
        ),
        Item::Task(t) => (format!("task:{}", t.text), src.line(t.span.start)),
      })
      .collect()
  }

  #[test]
  fn items_and_their_lines() {
    let text = "---\ntitle: x\n---\n# A\n\n- [ ] check `x`\n  ```sh\n  ls\n  ```\n> ~~~rhai {name=r}\n> 1\n> ~~~\n\n    indented\n";
    assert_eq!(
      items(text),
      vec![
        ("task:check x".into(), 6),
        ("code:sh".into(), 7),
        ("code:rhai {name=r}".into(), 10),
        ("code:<indented>".into(), 14),
      ]
    );
  }

  #[test]
  fn front_matter_only_at_top() {
    let doc = parse("---\ntitle: x\n---\nbody\n");
    let fm = doc.front_matter.expect("front matter");
    assert_eq!(fm.text, "title: x\n");
    assert_eq!(fm.span, Span::new(4, 13));
    assert!(parse("# x\n\n---\ntitle: y\n---\n").front_matter.is_none());
  }

  #[test]
  fn context_is_heading_path_and_prose() {
    let doc = parse("# Top\n## Logs\nLook for errors.\n\n- [ ] an item\n\n```sh\ngrep\n```\n");
    let Item::Code(code) = &doc.items[1] else {
      panic!("expected code")
    };
    assert_eq!(
      &*code.context.headings,
      ["Top".to_string(), "Logs".to_string()]
    );
    assert_eq!(code.context.prose.as_deref(), Some("Look for errors."));
    assert_eq!(code.body, "grep\n");
    assert_eq!(code.body_start, 53);
  }

  #[test]
  fn fence_info_span_and_closing() {
    let text = "```bash {name=a}\nx\n```\n~~~~sh\ny\n~~~\n";
    let doc = parse(text);
    let spans: Vec<_> = doc
      .items
      .iter()
      .map(|i| match i {
        Item::Code(c) => c.fence.as_ref().map(|f| (f.info_span, f.closed)),
        Item::Task(_) => None,
      })
      .collect();
    assert_eq!(
      spans,
      vec![
        Some((Span::new(3, 16), true)),
        Some((Span::new(27, 29), false))
      ]
    );
  }
}
