/**
 * The links of a directory index page (nginx, Apache, lighttpd, Caddy, python's http.server, or
 * one written by hand), parsed with htmlparser2 as the page streams in. A module of its own so
 * that htmlparser2 (some thirty files) is loaded only by runs that read an index page.
 */
import { Parser } from "htmlparser2";

/**
 * A streaming HTML reader that hands every `<a href>` to `link` as soon as it is parsed, with the
 * first `<base href>` seen so far (HTML's rule: the first one counts), and every piece of text to
 * `text`. Feed it text with `write`, then `end`. A handler may throw to stop the reading (a cap
 * reached): the error propagates out of `write`.
 */
export class IndexLinkReader {
  readonly #parser: Parser;
  #base: string | undefined;

  constructor(handlers: {
    link: (href: string, base: string | undefined) => void;
    text: (text: string) => void;
  }) {
    this.#parser = new Parser(
      {
        onopentag: (name, attributes) => {
          const href = attributes.href;
          if (href === undefined) return;
          if (name === "a") handlers.link(href, this.#base);
          else if (name === "base" && this.#base === undefined) this.#base = href;
        },
        ontext: handlers.text,
      },
      // HTML, not XML: names lower-cased, entities in attributes decoded (`&amp;` → `&`).
      { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
    );
  }

  write(text: string): void {
    this.#parser.write(text);
  }

  end(): void {
    this.#parser.end();
  }
}
