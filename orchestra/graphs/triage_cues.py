"""Cue tables for the deterministic triage: data only, so a reviewer can audit every weight in one place.

Each cue is `(regex, weight)`. The classifier wraps every regex in word boundaries that also work next to
punctuation (`(?<!\\w)...(?!\\w)`), matches it case-insensitively against the task with typos corrected, and adds
the weight to its label. A cue preceded by a negation ("don't submit", "no design changes") does not count.
"""

from __future__ import annotations

Cues = tuple[tuple[str, float], ...]

DOMAINS = ("web", "design", "bi", "ai")
COMPLEXITIES = ("low", "high", "critical")
WORKFLOWS = ("sales_intelligence_research", "competitive_analysis", "market_research", "design_to_deployment")

# Which domain each workflow belongs to: a confident workflow pulls the domain with it.
WORKFLOW_DOMAIN = {
    "sales_intelligence_research": "bi",
    "competitive_analysis": "bi",
    "market_research": "bi",
    "design_to_deployment": "design",
}

URL = r"https?://[^\s\"')]+"
BARE_DOMAIN = r"[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:example|com|io|org|net|dev|app|ai|co)(?:/[^\s\"')]*)?"
DESIGN_URL = r"figma\.com/"
COMPANY_NAME = (
    r"[A-Z][a-z]+ (?:Logistics|Analytics|Health|Foods|Robotics|Bank|Freight|Energy|Software|Systems|Retail|Labs|"
    r"Cosmetics|Insurance|Media|Payments|Inc|Ltd|GmbH|Corp|Group|Holdings|Capital|Partners|Technologies)\b"
)

# A cue is dropped when one of these ends right before it ("don't deploy", "without submitting", "no design").
NEGATION = r"(?:\b(?:no|not|never|without|don'?t|do not|dont|i'?ll|i will)\s+(?:\w+\s+){0,1})$"

# Requests that transform a given text: what follows the first colon is the payload, not instructions.
TEXT_TRANSFORM = (
    r"\b(?:translate|summari[sz]e|rewrite|paraphrase|proofread|tl;?dr|fix the grammar|make this|convert this|"
    r"shorten|polish|reword|cross-check|fact-check|give me a catchier)\b"
)

# Words worth correcting when misspelled (first letter kept, one edit). Short words are never corrected.
_TYPO_WORDS = (
    "figma design designs deploy deployment screenshot scrape crawl website homepage component components "
    "accessibility competitive competitor competitors compare comparison analysis analyze analyse research "
    "enrich pipeline translate summarize summarise rewrite paraphrase proofread market segment vertical prospect "
    "linkedin hubspot headcount revenue funding industry contact contacts check review publish production "
    "preview frame frames tokens typography submit checkout unsubscribe register benchmark battlecard landscape "
    "followers engagement warehouse forecast opportunity model models openrouter portkey claude gemini mistral "
    "llama embedding context grammar paragraph sentence investors investor board legal medical official exactly "
    "accurate precise correct everything thorough background meeting negotiation dossier"
)
TYPO_VOCAB = tuple(_TYPO_WORDS.split())

DOMAIN_CUES: dict[str, Cues] = {
    "web": (
        (r"screenshots?|screen ?shot", 3.0),
        (r"scrap(?:e|es|ing)|crawl(?:s|ing)?|sitemap|robots\.txt", 3.0),
        (r"(?:web ?)?site|websites?|web ?pages?|homepage|landing page at", 1.5),
        (r"browse|browser|click(?:s|ing)?(?: through)?|navigat\w+|visit|open(?![\w-])|go to", 2.0),
        (r"(?:contact|feedback|signup|sign-up|intake|application|request|partner|quote) forms?|forms?", 2.0),
        (r"fill(?:ing)?(?: in| out)? (?:the|a|our|their)\b[^.]{0,40}\bforms?", 3.0),
        (r"fill (?:in|out)|submit|sign up|checkout|cart|cookie banner|unsubscribe|callback", 2.0),
        (r"links?|404s?|500s|broken|loads?|load time|console errors?|returns? 200", 1.5),
        (r"blog|careers page|team pages?|footer|nav|meta description|h1|page title|tagline|faq", 1.2),
        (r"says?(?: about)?|shown|listed on|published on", 1.2),
        (r"pages?", 0.6),
        (r"(?:pricing|about|contact|careers|docs|team|product|landing) page (?:on|at|of)", 1.0),
        (r"(?:book|register|vote|reply|comment|post a comment)\b[^.]{0,40}\b(?:on|at|through)\b", 1.0),
        (r"admin panel|support ticket|roadmap page|webinar", 2.0),
        (r"live landing page|on (?:desktop|mobile|tablet)|mobile[- ]size", 1.5),
    ),
    "design": (
        (r"figma|fimga|framelink", 5.0),
        (r"designs?|design system|design file|design-to-code|redesign|mockups?|wireframes?", 2.5),
        (r"frames?|auto-?layout|layers?|components?|variants?|instances?|design tokens?|tokens?", 1.8),
        (r"text styles?|font|line height|padding|corner radius|hex|fills?|spacing|typography|8px grid|icons?", 1.5),
        (r"react|vue|svelte|angular|tailwind|next\.js|html|css|storybook|index\.html|breakpoints", 2.0),
        (r"(?:re)?deploy(?:s|ing|ment|ments)?|deployed|preview|promote|roll ?back|alias|vercel|/[pd]/", 2.0),
        (r"accessibility|wcag|contrast|ux|ui", 1.0),
        (r"team library|logo|hero (?:section|heading|image|redesign)", 1.5),
        (r"(?:to|in) (?:prod|production)|go live|push it live|live site", 1.5),
    ),
    "bi": (
        (r"enrich(?:ed|es|ing|ment)?", 3.5),
        (r"crm|hubspot|salesforce|pipeline|deals?|opportunit(?:y|ies)|close date|closed[- ](?:won|lost)", 3.0),
        (r"contacts|a contact (?:in|at|for)|contact (?:at|from)|leads?|accounts?|prospects?|icp|buying committee", 2.0),
        (r"stakeholders|decision makers", 2.0),
        (r"headcount|employees|revenue(?: band)?|arr|funding|funded|series [a-e]|founded|headquartered", 2.5),
        (r"industry|industries|firmographics?|tech stack|org chart|company size|companies", 1.5),
        (r"linkedin|followers|engagement|social(?: presence)?|youtube|share of voice|posted|posts", 2.0),
        (r"competitors|competitive|compettive|rivals|battlecard|swot|head-to-head|stack up", 3.5),
        (r"competitor|rival", 2.0),
        (r"markets?|mkt|tam|sam|som|verticals?|segments?|sub-segment|market map|landscape|players|vendors", 2.5),
        (r"warehouse|industry_stats|quota|forecast|churn|conversion|win/loss|reps?|owners?|ae|qbr", 2.0),
        (r"(?:call|meeting|demo|pitch|renewal|negotiation|conversation)s? with|pitching|dossier|sales", 2.0),
        (r"ceo|cto|cfo|coo|vp\b|head of|procurement|lost reason|quarter|q[1-4]", 1.5),
        (r"b2b|fintech|insurtech|health-?tech|climate-?tech|logistics|payments|saas", 0.8),
    ),
    "ai": (
        (r"llms?|gpt[-\w.]*|claude|llama[-\w.]*|mistral|gemini[-\w.]*|haiku|sonnet|openai|open-weights", 4.0),
        (r"openrouter|portkey|virtual keys?|api keys?|budget limit|credit balance|fallback", 3.5),
        (r"models?|tokens? (?:cost|price)|per (?:million|1m|m) (?:input |output )?tokens|context window", 2.5),
        (r"embedding model|function calling|temperature|prompts?|output tokens|summari[sz]er|chatbot", 2.5),
        (r"translat(?:e|ion)|summari[sz]e|tl;?dr|rewrite|paraphrase|proofread|grammar|reword", 3.0),
        (r"cross-check|fact-check|reconcile|disagree", 2.0),
        (r"paragraph|sentence|tone|tones|email so|bullet points|glossary|transcripts?|catchier title|clause", 2.0),
        (r"(?:this|the following|below)(?: \w+){0,2}:", 1.0),
        (r"press release|resolution text|discharge note|statement", 1.5),
    ),
}

# State-changing actions. Each one alone is enough for `critical` unless negated.
CRITICAL_ACTION_CUES: Cues = (
    (r"(?:re)?deploy(?:s|ing)?|promote|roll ?back|take down|go live|push(?: it)? live|publish(?:es|ing)?", 3.0),
    (r"ship (?:it|the|our|this)", 3.0),
    (r"submit(?:s|ting)?|hit submit|fill(?:ing)?(?: in| out)? (?:the|a|our|their)\b[^.]{0,40}\bforms?", 3.0),
    (r"(?:^|(?<=and )|(?<=then )|(?<=to )|(?<=please )|(?<=pls )|(?<=plz ))fill (?:in|out)", 3.0),
    (r"sign up (?:for|to|on|using)|register (?:our|for|me|us)|unsubscribe|vote for|reply to|request a callback", 3.0),
    (
        r"buy|purchase|complete (?:the )?checkout|check out (?:with|using)|"
        r"add [^.]{0,40}\bto (?:the|our|my|a)\b|attach (?:it|this|the \w+) to",
        3.0,
    ),
    (
        r"book (?:a|an)|schedule (?:a|an)|send (?:a|an|the|them|it|this|our|out|over)|email (?:the|this|it|them|our)",
        3.0,
    ),
    (r"post (?:a|an|the|our|it|this|to|them)|leave (?:\w+ )?comments?|comment on", 3.0),
    (r"log (?:a|the|it|this|them)|save\b[^.]{0,40}\b(?:into|to) (?:the |our )?(?:warehouse|crm|hubspot|wiki)", 3.0),
    (r"update (?:the|their|its|our|all|it|them|a|that)|change (?:the|our|its|their|it|all)|set (?:a|an|the|all)", 3.0),
    (r"create\b(?![^.]{0,30}\b(?:report|summary|brief|overview|chart|doc|one-pager|list|table of|profile)\b)", 3.0),
    (r"delete|remove|merge|rename|replace|reassign|assign|rotate|revoke|disable|enable|archive", 3.0),
    (r"move (?:all |the )?\w*\s?deals?|mark (?:the |it |them )?[\w ]{0,20}as|write [^.]{0,40}back to", 3.0),
    (r"switch (?:the|our|all|it)|point the|back to (?:hubspot|the crm)", 3.0),
)

# High-stakes context: together with an exactness demand (or alone when strong) it makes a task critical.
HIGH_STAKES_CUES: Cues = (
    (r"(?:for|to|by) (?:the |our )?board|board (?:deck|meeting|demo)|investors?|investor (?:deck|memo|update)", 3.0),
    (r"tax (?:filing|office|return)|legal (?:filing|review)|legal needs|medical record|patient's", 3.0),
    (r"official|annual report|press release|filing|submission|regulator", 3.0),
    (r"must be (?:exact|exactly right|accurate|perfect|precise|correct)|exactly right|be exact|are exact", 3.0),
    (r"100% correct|no errors|double-check|has to be (?:precise|exact|right)|needs to be (?:exact|100%)", 3.0),
    (r"every (?:number|figure) (?:must|is)|figures must|numbers must|have to be exact", 3.0),
)
HIGH_STAKES_THRESHOLD = 3.0

# Several steps, sources or tools, or analysis. Summed; compared with LOW_CUES.
HIGH_CUES: Cues = (
    (r"compare|comparison|compared|vs\.?|versus|benchmark|rank|head-to-head|stack up|differ", 2.0),
    (r"analy[sz](?:e|is|es)|breakdown|break down|trend|forecast|segment \w+ by|cross-reference", 2.0),
    (r"report|brief|dossier|one-pager|overview|research|audit|review|evaluate|assess|investigate|dig into", 1.8),
    (r"recommend|propose|choose|pick the best|which (?:\w+ ){1,2}should|justify|estimate|suggest|considering", 1.5),
    (r"document|relate|average|over the last \d+|last \d+ \w+|\d+ times|a list of|enriched with", 1.5),
    (r"in (?:\d+|two|three|several) (?:tones|languages|versions)", 1.5),
    (r"follows? (?:the|our) [\w ]{0,12}(?:grid|system|guidelines)|against (?:the|our) design system", 2.5),
    (r"by (?:model|team|key|owner|stage|segment|region|industry|month|quarter|rep)", 2.0),
    (
        r"(?:get|gets|have|has) the most|and why|by (?:\w+ ){0,2}(?:and|or) \w+|"
        r"all contacts|all (?:\w+ )?(?:companies|accounts|deals)",
        1.5,
    ),
    (r"crawl|every|all (?:the |of )?(?:pages|posts|job|links|frames|components|companies)|each|whole site", 2.0),
    (r"all pages|sub-?pages|paginated|three|five|multiple|several|\d{2,} (?:pages|domains|strings)|top \d+", 1.5),
    (r"then|and then|as well as|including|plus", 1.0),
    (r"what changed|at risk|stuck|slipped|consistent|inconsistenc\w+|issues|problems|differences", 1.2),
    (
        r"into (?:\w+ ){0,2}(?:components?|code|pages?|react|vue|html)|to (?:react|html)|design-to-code|generate|code",
        2.0,
    ),
    (r"tailwind|storybook|tokens\.json|unit tests|responsive|css|html|component library", 1.2),
    (r"(?:size|growth|players|segments|vendors|funding|positioning|strengths)[,:]", 1.0),
    (
        r"pull together|put together|everything|thorough|fully|end-to-end|table|list (?:the|every|which)|outline|map",
        1.0,
    ),
)

LOW_CUES: Cues = (
    (r"what(?:'s| is| was| does)|whats|how (?:many|much)|who(?:'s| is| owns)|when (?:was|did)|where is", 1.5),
    (r"is [\w./:-]+ (?:up|available)|does \w+|which (?:model|component) is|get me the|grab|copy|fetch", 1.2),
    (r"just|quick|only|single|one line|two sentences|the number|look up|lookup", 1.2),
    (r"translate|paraphrase|proofread|fix the grammar|rewrite|shorter|tl;?dr|convert this", 2.0),
    (r"export|list the|show me|give me the|read me|check (?:if|whether)|tell me (?:their|what|how many)", 1.0),
)

# Workflow cues. A workflow is chosen when its score reaches WORKFLOW_THRESHOLD.
WORKFLOW_CUES: dict[str, Cues] = {
    "sales_intelligence_research": (
        (r"sales (?:brief|intel\w*|research)|account brief|prospect (?:brief|profile|research)|pre-?call", 3.5),
        (
            r"pre-meeting|call prep|prep(?:are)? (?:me )?for (?:my |the |our )?\w* ?(?:call|meeting|demo|negotiation)",
            3.5,
        ),
        (r"dossier|one-pager on|research the prospect|get me up to speed|what do (?:i|we) (?:need to )?know", 3.0),
        (r"everything (?:i should know|about)|background on|who should i talk to|opening line", 2.5),
        (r"(?:before|ahead of|for) (?:my|the|our|tomorrow's|thursday's|a) (?:\w+ )?(?:call|meeting|pitch|demo)", 2.0),
        (
            r"i(?:'ve| have) (?:got )?a (?:call|demo|meeting)|(?:i'm|i am|we're|we are) meeting|"
            r"(?:call|meeting|demo) (?:on|at|next) [^.]{0,25}with",
            2.0,
        ),
        (r"(?:call|meeting|demo|conversation|pitch) (?:with|on)|pitching|reach out to|buying committee", 1.5),
        (r"intro call|discovery call|renewal (?:call|conversation)|first call|cold call", 1.5),
        (r"what they do|who they are|how big they are|talked to them|know nothing about|what we know", 1.5),
        (r"research|brief|profile|prep", 1.0),
        (
            r"background|recent (?:posts|news|funding)|talking points|stakeholders|triggers|past (?:touches|conv\w+)",
            1.0,
        ),
    ),
    "competitive_analysis": (
        (r"competitive (?:analysis|comparison|benchmark)|compettive analysis|competitor landscape|battlecard", 4.0),
        (r"swot|head-to-head|stack up against|who's winning|benchmark \w+ [\w ]{0,30}against", 3.0),
        (r"(?:top|main|biggest|closest|named) (?:\d+ |two |three |five )?(?:competitors|rivals|challenger)", 3.0),
        (r"competitors|rivals", 2.0),
        (
            r"(?:compare|comparison of) (?:us|ourselves|\w+ \w+ (?:with|against|vs\.?|versus|and))"
            r"|how do we compare|us vs",
            2.0,
        ),
        (r"vs\.?|versus|compare|against", 1.0),
        # "compare the pricing of A and B": what is compared comes first, the companies after it
        (
            r"(?:compare|comparison of|how do) (?:the |their )?(?:pricing|prices|plans|funding|headcount|teams?|growth|"
            r"traction|reach|audiences?|followers)\b",
            2.0,
        ),
    ),
    "market_research": (
        (r"market (?:research|sizing|overview|analysis|map|size)|mkt sizing|tam|size the market|size the", 4.0),
        (r"(?:the|this) (?:(?!by |per )[\w-]+ ){1,3}(?:market|segment|vertical|space)|verticals?|landscape of", 3.0),
        (r"markets?|segments?|sub-segment|sectors?", 1.5),
        (r"top (?:\d+ )?players|key vendors|who leads|how big|growing|growth rate|how concentrated", 1.5),
    ),
    "design_to_deployment": (
        (r"design to deployment|design-to-deployment|figma -> code|to a (?:tested, )?deployed page", 5.0),
        (r"(?:re)?deploy(?:s|ing)?|deployment of|deployed (?:page|preview|to)|go live|push it live", 2.0),
        # "deploy pricing", "ship the careers page": the imperative names what to deploy (the workflow finds it,
        # or says which designs exist; it never deploys a guess)
        (
            r"(?:^|please |pls |and |then )(?:(?:re)?deploy|ship|publish) (?:the |our |my |a |an )?"
            r"(?!status|history|logs?\b)[a-z]\w*",
            1.5,
        ),
        (r"from (?:the )?(?:figma|design)|figma|design file|mockups|(?:page|settings) design|redesign", 1.5),
        (r"publish(?:es|ing)?|ship", 1.5),
        (r"(?:to|in) (?:prod|production)|(?:it|page) live|live (?:by|for|site)|/p/|vercel", 1.0),
        (r"generate|code|implement|build|rebuild|convert|turn|make", 0.8),
        (r"tests?|verify|check it renders|smoke test|e2e", 0.6),
    ),
}
WORKFLOW_THRESHOLD = 3.0

# When cues are absent the router still answers, with these defaults and a low confidence.
DEFAULT_DOMAIN = "ai"
DEFAULT_COMPLEXITY = "low"
