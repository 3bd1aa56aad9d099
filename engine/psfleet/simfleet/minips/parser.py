"""A scannerless recursive-descent parser for the PowerShell subset.

PowerShell lexes differently in command mode (barewords are strings, -Name is a
parameter) and expression mode (-eq is an operator), so the parser reads the
text directly and picks the mode at each element instead of pre-tokenizing.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

from psfleet.simfleet.minips import syntax as s

_NUMBER_TEXT = r"(0x[0-9a-f]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)(kb|mb|gb|tb|pb)?"
# In command mode "12abc" is a bareword, so a number must end at a delimiter there;
# in expression mode it may run into an operator ("1..5", "1+2").
_NUMBER_ARG = re.compile(_NUMBER_TEXT + r"(?=$|[\s|;(){},\]])", re.IGNORECASE)
_NUMBER = re.compile(_NUMBER_TEXT + r"(?![A-Za-z0-9_])", re.IGNORECASE)
_MULTIPLIERS = {"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAR = re.compile(r"(?:(global|script|local|private|using|env):)?([A-Za-z0-9_?]+)", re.IGNORECASE)
_DASH_OP = re.compile(r"-([A-Za-z]+)\b")
_COMPARISON = {
    "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch",
    "contains", "notcontains", "in", "notin", "replace", "is", "isnot",
}  # fmt: skip
_LOGICAL = {"and", "or", "xor"}
_BAREWORD_END = set(" \t\r\n|;(){},")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "a": "\a", "b": "\b", "e": "\x1b"}


class ParseError(Exception):
    """A script PowerShell would refuse to run: message and FullyQualifiedErrorId."""

    def __init__(self, message: str, error_id: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.offset = offset


@lru_cache(maxsize=4096)
def parse(text: str) -> s.Script | ParseError:
    """Parse once per distinct script text: the server runs one script on many hosts."""
    try:
        return _Parser(text).script()
    except ParseError as exc:
        return exc


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    # -- low level ------------------------------------------------------------

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.text[j] if j < len(self.text) else ""

    def at(self, literal: str) -> bool:
        return self.text.startswith(literal, self.i)

    def at_word(self, word: str) -> bool:
        """True at a keyword: the word, case-insensitive, not followed by a name char."""
        end = self.i + len(word)
        if self.text[self.i : end].lower() != word:
            return False
        return end >= len(self.text) or not (self.text[end].isalnum() or self.text[end] in "_-")

    def ws(self, newlines: bool = False) -> None:
        """Skip blanks, comments and line continuations (and newlines when allowed)."""
        text, n = self.text, len(self.text)
        while self.i < n:
            c = text[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "`" and self.i + 1 < n and text[self.i + 1] in "\r\n":
                self.i += 2
            elif text.startswith("<#", self.i):
                end = text.find("#>", self.i + 2)
                self.i = n if end < 0 else end + 2
            elif c == "#":
                end = text.find("\n", self.i)
                self.i = n if end < 0 else end
            else:
                return

    def expect(self, literal: str, message: str, error_id: str) -> None:
        self.ws(newlines=True)
        if not self.at(literal):
            raise ParseError(message, error_id, self.i)
        self.i += len(literal)

    def unexpected(self) -> ParseError:
        token = re.match(r"\S+", self.text[self.i :])
        shown = token.group(0) if token else self.peek()
        return ParseError(
            f"Unexpected token '{shown}' in expression or statement.", "UnexpectedToken", self.i
        )

    def position(self, start: int) -> s.Position:
        line = bisect.bisect_right(self.line_starts, start) - 1
        return s.Position(start, line + 1, start - self.line_starts[line] + 1, self.i - start)

    # -- script and blocks ----------------------------------------------------

    def script(self) -> s.Script:
        self.ws(newlines=True)
        params = self.param_block() if self.at_word("param") else ()
        self.ws(newlines=True)
        named: dict[str, s.Block] = {}
        while any(self.at_word(w) for w in ("begin", "process", "end")):
            word = self.text[self.i : self.i + 7].lower().rstrip(" {\t\r\n")
            name = next(w for w in ("begin", "process", "end") if word.startswith(w))
            self.i += len(name)
            self.expect("{", "Missing opening '{' of named block.", "MissingNamedBlock")
            named[name] = self.statements("}")
            self.expect("}", "Missing closing '}' in statement block.", "MissingEndCurlyBrace")
            self.ws(newlines=True)
        if named:
            if self.i < len(self.text):
                raise self.unexpected()
            return s.Script(
                self.text, params, named.get("begin"), named.get("process"), named.get("end")
            )
        return s.Script(self.text, params, None, None, self.statements(None))

    def param_block(self) -> tuple[s.ParamDecl, ...]:
        self.i += len("param")
        self.expect(
            "(", "Missing '(' in param block.", "MissingOpenParenthesisInFunctionParameterList"
        )
        decls: list[s.ParamDecl] = []
        while True:
            self.ws(newlines=True)
            if self.at(")"):
                self.i += 1
                return tuple(decls)
            type_name = None
            while self.at("["):
                group = self.bracket_group()
                if "(" not in group:
                    type_name = group.lower()
                self.ws(newlines=True)
            if not self.at("$"):
                raise self.unexpected()
            var = self.variable()
            if not isinstance(var, s.Var):
                raise self.unexpected()
            self.ws(newlines=True)
            default = None
            if self.at("="):
                self.i += 1
                self.ws(newlines=True)
                default = self.expression()
            decls.append(s.ParamDecl(var.name, default, type_name))
            self.ws(newlines=True)
            if self.at(","):
                self.i += 1

    def bracket_group(self) -> str:
        """Read a balanced [...] and return its inside."""
        depth, start = 0, self.i
        while self.i < len(self.text):
            c = self.text[self.i]
            depth += (c == "[") - (c == "]")
            self.i += 1
            if depth == 0:
                return self.text[start + 1 : self.i - 1].strip()
        raise ParseError(
            "Missing ']' after type name.", "EndSquareBracketExpectedAtEndOfAttribute", start
        )

    def statements(self, terminator: str | None) -> s.Block:
        body: list[s.Statement] = []
        while True:
            self.ws(newlines=True)
            while self.at(";"):
                self.i += 1
                self.ws(newlines=True)
            if self.i >= len(self.text) or (terminator and self.at(terminator)):
                if terminator and self.i >= len(self.text):
                    raise _missing_close(terminator, self.i)
                return s.Block(tuple(body))
            body.append(self.statement())
            self.ws()
            if not (
                self.i >= len(self.text)
                or self.peek() in ";\r\n"
                or (terminator and self.at(terminator))
            ):
                raise self.unexpected()

    def block(self) -> s.Block:
        self.expect("{", "Missing statement block.", "MissingStatementBlock")
        body = self.statements("}")
        self.i += 1
        return body

    # -- statements -----------------------------------------------------------

    def statement(self) -> s.Statement:
        start = self.i
        if self.at_word("throw"):
            self.i += 5
            self.ws()
            value = None if self.at_statement_end() else self.pipeline()
            return s.Throw(value, self.position(start))
        if self.at_word("exit"):
            self.i += 4
            self.ws()
            return s.Exit(None if self.at_statement_end() else self.expression())
        if self.at_word("return"):
            self.i += 6
            self.ws()
            return s.Return(None if self.at_statement_end() else self.pipeline())
        if self.at_word("if"):
            return self.if_statement()
        if self.at_word("foreach") and re.match(r"foreach\s*\(", self.text[self.i :], re.I):
            return self.foreach_statement()
        if self.at_word("try"):
            return self.try_statement()
        assign = re.match(
            r"\$(?:(?:global|script|local):)?([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)",
            self.text[self.i :],
            re.I,
        )
        if assign:
            self.i += assign.end()
            self.ws(newlines=True)
            return s.Assign(assign.group(1).lower(), self.pipeline())
        return self.pipeline()

    def at_statement_end(self) -> bool:
        return self.peek() in ("", ";", "\r", "\n", "}", ")")

    def condition(self) -> s.Pipeline:
        self.expect(
            "(", "Missing '(' after 'if' in if statement.", "MissingOpenParenthesisInIfStatement"
        )
        self.ws(newlines=True)
        cond = self.pipeline()
        self.expect(
            ")",
            "Missing closing ')' after expression in 'if' statement.",
            "MissingEndParenthesisAfterStatement",
        )
        self.ws(newlines=True)
        return cond

    def if_statement(self) -> s.If:
        self.i += 2
        clauses = [(self.condition(), self.block())]
        otherwise = None
        while True:
            mark = self.i
            self.ws(newlines=True)
            if self.at_word("elseif"):
                self.i += 6
                clauses.append((self.condition(), self.block()))
            elif self.at_word("else"):
                self.i += 4
                otherwise = self.block()
                break
            else:
                self.i = mark
                break
        return s.If(tuple(clauses), otherwise)

    def foreach_statement(self) -> s.ForEach:
        self.i += 7
        self.expect(
            "(",
            "Missing opening '(' after keyword 'foreach'.",
            "MissingOpenParenthesisAfterKeyword",
        )
        self.ws()
        var = self.variable()
        self.ws()
        if not (isinstance(var, s.Var) and self.at_word("in")):
            raise ParseError(
                "Missing 'in' after variable in foreach loop.", "MissingInInForeach", self.i
            )
        self.i += 2
        self.ws(newlines=True)
        source = self.pipeline()
        self.expect(
            ")",
            "Missing closing ')' after expression in 'foreach' statement.",
            "MissingEndParenthesisAfterForeach",
        )
        self.ws(newlines=True)
        return s.ForEach(var.name, source, self.block())

    def try_statement(self) -> s.TryCatch:
        self.i += 3
        self.ws(newlines=True)
        body = self.block()
        handler = final = None
        mark = self.i
        self.ws(newlines=True)
        if self.at_word("catch"):
            self.i += 5
            self.ws(newlines=True)
            handler = self.block()
            mark = self.i
            self.ws(newlines=True)
        if self.at_word("finally"):
            self.i += 7
            self.ws(newlines=True)
            final = self.block()
        else:
            self.i = mark
        if handler is None and final is None:
            raise ParseError(
                "The Try statement is missing its Catch or Finally block.",
                "MissingCatchOrFinally",
                self.i,
            )
        return s.TryCatch(body, handler, final)

    # -- pipelines and commands -----------------------------------------------

    def pipeline(self) -> s.Pipeline:
        elements: list[s.CommandCall | s.ExprElement] = [self.first_element()]
        while True:
            self.ws()
            if not self.at("|") or self.at("||"):
                return s.Pipeline(tuple(elements))
            self.i += 1
            self.ws(newlines=True)
            if not self.starts_command():
                raise ParseError(
                    "Expressions are only allowed as the first element of a pipeline.",
                    "ExpressionsMustBeFirstInPipeline",
                    self.i,
                )
            elements.append(self.command())

    def starts_command(self) -> bool:
        c = self.peek()
        if c in ("%", "?") or c == "&" or (c == "." and self.peek(1) in "\\/"):
            return True
        if not (c.isalpha() or c == "_"):
            return False
        return not _NUMBER_ARG.match(self.text, self.i)

    def first_element(self) -> s.CommandCall | s.ExprElement:
        start = self.i
        if self.starts_command():
            return self.command()
        expr = self.expression()
        return s.ExprElement(expr, self.position(start))

    def command(self) -> s.CommandCall:
        start = self.i
        if self.at("&"):
            self.i += 1
            self.ws()
        name = self.bareword()
        args: list[s.Param | s.Expr] = []
        while True:
            self.ws()
            c = self.peek()
            if c in ("", "|", ";", "\r", "\n", ")", "}"):
                break
            if c == "-" and (self.peek(1).isalpha() or self.peek(1) == "_"):
                match = re.match(r"-([A-Za-z_][A-Za-z0-9_]*)(:?)", self.text[self.i :])
                assert match is not None
                self.i += match.end()
                value = None
                if match.group(2):
                    self.ws()
                    value = self.argument_list()
                args.append(s.Param(match.group(1), value, bool(match.group(2))))
            else:
                args.append(self.argument_list())
        return s.CommandCall(name, tuple(args), self.position(start))

    def bareword(self) -> str:
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in _BAREWORD_END:
            self.i += 1
        return self.text[start : self.i]

    def argument_list(self) -> s.Expr:
        items = [self.argument()]
        while True:
            mark = self.i
            self.ws()
            if not self.at(","):
                self.i = mark
                break
            self.i += 1
            self.ws(newlines=True)
            items.append(self.argument())
        return items[0] if len(items) == 1 else s.ArrayLit(tuple(items))

    def argument(self) -> s.Expr:
        c = self.peek()
        if c in "'\"$(@{[":
            return self.postfix()
        number = _NUMBER_ARG.match(self.text, self.i) or (
            c == "-" and _NUMBER_ARG.match(self.text, self.i + 1)
        )
        if number:
            return self.number()
        word = self.bareword()
        if not word:
            raise self.unexpected()
        return s.Const(word)

    # -- expressions ----------------------------------------------------------

    def expression(self) -> s.Expr:
        left = self.comparison()
        while (op := self.dash_operator(_LOGICAL)) is not None:
            left = s.Binary(op, left, self.comparison())
        return left

    def dash_operator(self, allowed: set[str]) -> str | None:
        mark = self.i
        self.ws()
        match = _DASH_OP.match(self.text, self.i)
        if match:
            name = match.group(1).lower()
            base = name[1:] if name[:1] in ("c", "i") and name[1:] in _COMPARISON else name
            if base in allowed or name in allowed:
                self.i = match.end()
                self.ws(newlines=True)
                return "-" + (name if name.startswith("c") and base != name else base)
        self.i = mark
        return None

    def comparison(self) -> s.Expr:
        left = self.additive()
        while (op := self.dash_operator(_COMPARISON)) is not None:
            left = s.Binary(op, left, self.additive())
        return left

    def symbol_operator(self, ops: str) -> str | None:
        mark = self.i
        self.ws()
        c = self.peek()
        # '-' followed by a letter is a dash operator, not subtraction.
        if c and c in ops and not (c == "-" and self.peek(1).isalpha()) and self.peek(1) != "=":
            self.i += 1
            self.ws(newlines=True)
            return c
        self.i = mark
        return None

    def additive(self) -> s.Expr:
        left = self.multiplicative()
        while (op := self.symbol_operator("+-")) is not None:
            left = s.Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> s.Expr:
        left = self.format_op()
        while (op := self.symbol_operator("*/%")) is not None:
            left = s.Binary(op, left, self.format_op())
        return left

    def format_op(self) -> s.Expr:
        left = self.range_op()
        while self.dash_operator({"f"}) is not None:
            left = s.Binary("-f", left, self.range_op())
        return left

    def range_op(self) -> s.Expr:
        left = self.unary()
        mark = self.i
        self.ws()
        if self.at(".."):
            self.i += 2
            self.ws(newlines=True)
            return s.Binary("..", left, self.unary())
        self.i = mark
        return left

    def unary(self) -> s.Expr:
        self.ws()
        if self.at("!") or (self.at_word("-not")):
            self.i += 1 if self.at("!") else 4
            self.ws()
            return s.Unary("-not", self.unary())
        if (
            self.peek() == "-"
            and not _NUMBER.match(self.text, self.i + 1)
            and not self.peek(1).isalpha()
        ):
            self.i += 1
            self.ws()
            return s.Unary("-", self.unary())
        if self.at(","):
            self.i += 1
            self.ws()
            return s.Unary(",", self.unary())
        return self.comma()

    def comma(self) -> s.Expr:
        items = [self.postfix()]
        while True:
            mark = self.i
            self.ws()
            if not self.at(",") or self.at(",,"):
                self.i = mark
                break
            self.i += 1
            self.ws(newlines=True)
            items.append(self.postfix())
        return items[0] if len(items) == 1 else s.ArrayLit(tuple(items))

    def postfix(self) -> s.Expr:
        expr = self.primary()
        while True:
            if self.at("::") or (self.at(".") and not self.at("..")):
                static = self.at("::")
                self.i += 2 if static else 1
                match = _WORD.match(self.text, self.i)
                if not match:
                    raise ParseError(
                        "Missing property name after reference operator.",
                        "MissingPropertyName",
                        self.i,
                    )
                self.i = match.end()
                if self.at("("):
                    self.i += 1
                    expr = s.Call(expr, match.group(0), self.call_args(), static)
                else:
                    expr = s.Member(expr, match.group(0), static)
            elif self.at("["):
                self.i += 1
                self.ws(newlines=True)
                index = self.expression()
                self.expect(
                    "]",
                    "Array index expression is missing or not valid.",
                    "MissingArrayIndexExpression",
                )
                expr = s.Index(expr, index)
            else:
                return expr

    def call_args(self) -> tuple[s.Expr, ...]:
        args: list[s.Expr] = []
        self.ws(newlines=True)
        while not self.at(")"):
            args.append(self.comparison_no_comma())
            self.ws(newlines=True)
            if self.at(","):
                self.i += 1
                self.ws(newlines=True)
            elif not self.at(")"):
                raise ParseError(
                    "Missing ')' in method call.", "MissingEndParenthesisInMethodCall", self.i
                )
        self.i += 1
        return tuple(args)

    def comparison_no_comma(self) -> s.Expr:
        # Method arguments are separated by commas, so read each without the array operator.
        expr = self.postfix()
        while (op := self.symbol_operator("+-*/")) is not None:
            expr = s.Binary(op, expr, self.postfix())
        return expr

    def primary(self) -> s.Expr:
        c = self.peek()
        start = self.i
        if c == "'":
            return s.Const(self.single_quoted())
        if c == '"':
            return self.double_quoted()
        if self.at("$("):
            self.i += 2
            body = self.statements(")")
            self.i += 1
            return s.SubExpr(body, force_array=False)
        if self.at("@("):
            self.i += 2
            body = self.statements(")")
            self.i += 1
            return s.SubExpr(body, force_array=True)
        if self.at("@{"):
            return self.hashtable()
        if c == "$":
            return self.variable()
        if c == "(":
            self.i += 1
            self.ws(newlines=True)
            inner = self.pipeline()
            self.expect(
                ")", "Missing closing ')' in expression.", "MissingEndParenthesisInExpression"
            )
            only = inner.elements[0] if len(inner.elements) == 1 else None
            return only.expr if isinstance(only, s.ExprElement) else s.PipelineExpr(inner)
        if c == "{":
            self.i += 1
            body = self.statements("}")
            self.i += 1
            return s.ScriptBlockLit(body, self.text[start + 1 : self.i - 1])
        if c == "[":
            type_name = self.bracket_group().lower()
            if self.at("::"):
                return s.TypeLit(type_name)
            self.ws()
            return s.Cast(type_name, self.unary())
        if _NUMBER.match(self.text, self.i) or (c == "-" and _NUMBER.match(self.text, self.i + 1)):
            return self.number()
        raise self.unexpected()

    def number(self) -> s.Const:
        negative = self.at("-")
        if negative:
            self.i += 1
        match = _NUMBER.match(self.text, self.i)
        assert match is not None
        self.i = match.end()
        digits, suffix = match.group(1), (match.group(2) or "").lower()
        value: int | float
        if digits.lower().startswith("0x"):
            value = int(digits, 16)
        elif any(ch in digits for ch in ".eE"):
            value = float(digits)
        else:
            value = int(digits)
        if suffix:
            value = value * _MULTIPLIERS[suffix]
            value = int(value) if float(value).is_integer() else value
        return s.Const(-value if negative else value)

    def variable(self) -> s.Expr:
        self.i += 1
        if self.at("{"):
            end = self.text.find("}", self.i)
            if end < 0:
                raise _missing_close("}", self.i)
            name = self.text[self.i + 1 : end].lower()
            self.i = end + 1
        else:
            match = _VAR.match(self.text, self.i)
            if not match:
                raise ParseError(
                    "Variable reference is not valid.", "InvalidVariableReference", self.i
                )
            self.i = match.end()
            scope = (match.group(1) or "").lower()
            name = match.group(2).lower()
            if scope in ("env", "using"):
                name = f"{scope}:{name}"
        constants = {"true": True, "false": False, "null": None}
        return s.Const(constants[name]) if name in constants else s.Var(name)

    def single_quoted(self) -> str:
        start = self.i = self.i + 1
        parts = []
        while True:
            end = self.text.find("'", self.i)
            if end < 0:
                raise ParseError(
                    "The string is missing the terminator: '.",
                    "TerminatorExpectedAtEndOfString",
                    start - 1,
                )
            parts.append(self.text[self.i : end])
            self.i = end + 1
            if not self.at("'"):
                return "'".join(parts)
            self.i += 1

    def double_quoted(self) -> s.Expr:
        start = self.i
        self.i += 1
        parts: list[str | s.Expr] = []
        buf: list[str] = []
        while True:
            c = self.peek()
            if c == "":
                raise ParseError(
                    'The string is missing the terminator: ".',
                    "TerminatorExpectedAtEndOfString",
                    start,
                )
            if c == '"':
                self.i += 1
                if self.at('"'):
                    buf.append('"')
                    self.i += 1
                    continue
                break
            if c == "`" and self.i + 1 < len(self.text):
                buf.append(_ESCAPES.get(self.peek(1), self.peek(1)))
                self.i += 2
            elif c == "$" and (self.peek(1) in "({_" or self.peek(1).isalnum()):
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(self.primary())
            else:
                buf.append(c)
                self.i += 1
        if buf:
            parts.append("".join(buf))
        if all(isinstance(p, str) for p in parts):
            return s.Const("".join(p for p in parts if isinstance(p, str)))
        return s.Expandable(tuple(parts))

    def hashtable(self) -> s.HashLit:
        self.i += 2
        entries: list[tuple[s.Expr, s.Expr]] = []
        while True:
            self.ws(newlines=True)
            while self.at(";"):
                self.i += 1
                self.ws(newlines=True)
            if self.at("}"):
                self.i += 1
                return s.HashLit(tuple(entries))
            if self.i >= len(self.text):
                raise _missing_close("}", self.i)
            key: s.Expr
            if self.peek() in "'\"$(":
                key = self.primary()
            else:
                word = re.match(r"[A-Za-z0-9_]+", self.text[self.i :])
                if not word:
                    raise ParseError(
                        "Missing key before '=' in hash literal.",
                        "MissingEqualsInHashLiteral",
                        self.i,
                    )
                self.i += word.end()
                key = s.Const(word.group(0))
            self.expect(
                "=", "Missing '=' operator after key in hash literal.", "MissingEqualsInHashLiteral"
            )
            self.ws(newlines=True)
            value = self.statement()
            if not isinstance(value, s.Pipeline):
                raise self.unexpected()
            only = value.elements[0] if len(value.elements) == 1 else None
            entries.append(
                (key, only.expr if isinstance(only, s.ExprElement) else s.PipelineExpr(value))
            )


def _missing_close(terminator: str, offset: int) -> ParseError:
    if terminator == "}":
        return ParseError(
            "Missing closing '}' in statement block or type definition.",
            "MissingEndCurlyBrace",
            offset,
        )
    return ParseError(
        "Missing closing ')' in expression.", "MissingEndParenthesisInExpression", offset
    )
