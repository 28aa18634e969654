"""Phrases behind :mod:`models.synth.other_mail`: benign mail that is not a customer's request.

Support inboxes also receive newsletters, mailing-list posts, pasted code and logs, automated
notices, colleagues' notes, job adverts, how-to guides and writing-group prompts. Much of it is
written in the imperative and uses the words an injection is made of ("ignore the warning",
"your role", "the system prompt", "act as", "write a short story about", "new instructions"),
in their everyday sense. Slots: ``{name}``, ``{other}`` (a second first name), ``{surname}``,
``{product}``, ``{place}``, ``{when}``, ``{n}`` (a small number), ``{version}``, ``{topic}``,
``{tool}``, ``{team}``.
"""

from __future__ import annotations

TOPICS: tuple[str, ...] = (
    "home composting", "film photography", "urban cycling", "sourdough baking", "birdwatching",
    "amateur radio", "woodworking", "trail running", "indoor plants", "chess openings",
    "beekeeping", "model railways", "watercolour painting", "community gardens", "home brewing",
)
TOOLS: tuple[str, ...] = (
    "rsync", "nginx", "postgres", "the build script", "cron", "docker compose", "the CSV importer",
    "git bisect", "the backup job", "systemd", "the label printer driver", "pandas", "ffmpeg",
)
TEAMS: tuple[str, ...] = (
    "warehouse", "finance", "platform", "design", "field service", "returns", "marketing",
    "facilities", "data", "front desk",
)

# --- newsletters -------------------------------------------------------------------------------
NEWSLETTER_SUBJECTS: tuple[str, ...] = (
    "Your {topic} digest for {when}", "{n} ideas for {topic} this season",
    "What's new at the {place} club", "Issue #{n}: {topic}, tools and events",
    "Last chance: early-bird tickets for {topic} day", "This month in {topic}",
)
NEWSLETTER_OPENINGS: tuple[str, ...] = (
    "Hello {name},\n\nWelcome to this month's newsletter. Here is what happened since the last "
    "issue.",
    "Hi there,\n\nYou are receiving this because you subscribed at our {place} event.",
    "Dear member,\n\nSpring is here and the {place} group has a full programme for you.",
    "Good morning!\n\nA quick round-up of the news, then the dates for your diary.",
)
NEWSLETTER_ITEMS: tuple[str, ...] = (
    "Feature: how {name} {surname} turned a spare room into a {topic} studio, and the {n} "
    "mistakes to avoid.",
    "Event: the {topic} meetup moves to {place} on {when}. Doors open at six; bring a friend.",
    "Tip of the month: ignore the old advice about watering daily; twice a week is plenty.",
    "New in the shop: the {product} is back in stock, with {n} colours to choose from.",
    "Reader question: {other} asks which rules apply to shared allotments. Our answer is on the "
    "blog.",
    "Volunteers wanted: we need {n} people to act as marshals at the {place} fun run.",
    "Competition: write a short story about {topic} in under 500 words and win a weekend away.",
    "Podcast: episode {n} is out, with {name} on the role of patience in {topic}.",
    "Reminder: the annual members' vote closes on {when}. Every vote counts.",
    "From the archive: our very first issue, {n} years ago, on the basics of {topic}.",
)
NEWSLETTER_FOOTERS: tuple[str, ...] = (
    "You are receiving this email because you signed up on our website.\nUnsubscribe | Update "
    "your preferences | View in browser",
    "Don't want these emails any more? Reply with UNSUBSCRIBE in the subject line.\n(c) The "
    "{place} {topic} society",
    "Forward this to a friend who loves {topic}.\nTo stop receiving the newsletter, click the "
    "link in your account settings.",
    "This newsletter is sent once a month. Change how often you hear from us in your profile.",
)

# --- mailing-list posts ------------------------------------------------------------------------
LIST_SUBJECTS: tuple[str, ...] = (
    "Re: [{tool}-users] weird behaviour after upgrading to {version}",
    "[{topic}] Re: beginner question", "Re: Re: [dev] proposal: drop the old config format",
    "[announce] {tool} {version} released", "Re: [{topic}] meeting notes and next steps",
)
LIST_QUOTES: tuple[str, ...] = (
    "> On {when}, {other} wrote:\n> Has anyone seen {tool} hang after the upgrade? It just sits "
    "there.\n> I tried restarting twice.",
    "> {other} {surname} wrote:\n> > Just ignore the deprecation warnings for now,\n> > they go "
    "away in the next release.\n> Are you sure? They fill my logs.",
    "> Quoting {other}:\n> My rule of thumb: never change two settings at once.",
)
LIST_REPLIES: tuple[str, ...] = (
    "Same here. Setting the timeout to {n} seconds fixed it for me; the default is far too low.",
    "You can safely ignore that message. It is printed whenever the cache is cold.",
    "I'd forget about the old flag entirely: the new option does the same and is documented.",
    "The trick is to run it as a different user. Then the permissions stop getting in the way.",
    "We discussed this at length last year. The consensus was to keep the defaults and document "
    "the exceptions.",
    "Please keep replies on the list so others can find the answer later.",
    "Thanks, that solved it. For the archives: the culprit was a stale lock file in /tmp.",
    "Has anyone tried this on {version}? The release notes mention a new mode for exactly this.",
)
LIST_FOOTERS: tuple[str, ...] = (
    "_______________________________________________\n{tool}-users mailing list\nTo "
    "unsubscribe, send a message with 'unsubscribe' in the subject.",
    "--\nYou received this message because you are subscribed to the {topic} group.\nTo post, "
    "send email to the list address.",
    "--\n{name} {surname}\n\"Premature optimisation is a popular hobby.\"",
)

# --- pasted code, logs and configuration -------------------------------------------------------
CODE_SUBJECTS: tuple[str, ...] = (
    "the script I mentioned", "stack trace from last night", "config for the new box",
    "patch for the import bug", "Fwd: build failed on main ({version})",
)
CODE_INTROS: tuple[str, ...] = (
    "Hi {other},\n\nHere is the snippet from the call. Run it as root, otherwise it fails on "
    "the first step.",
    "Hey,\n\nThis is the traceback we got at 03:10. Ignore the first few lines, they are just "
    "the retry loop.",
    "Morning,\n\nCopying the config below so you don't have to dig for it. The system section "
    "is the one that changed.",
    "{other},\n\nSmall patch attached inline. Please review it before Friday; I kept the old "
    "behaviour behind a flag.",
)
CODE_BLOCKS: tuple[str, ...] = (
    "#!/bin/sh\nset -e\n# ignore errors from the cleanup step\n{tool_cmd} --dry-run /srv/data "
    "/mnt/backup || true\necho \"done\"",
    "Traceback (most recent call last):\n  File \"import.py\", line {n}, in <module>\n    rows "
    "= load(path)\nValueError: invalid literal for int() with base 10: 'N/A'",
    "[system]\nmode = \"strict\"\nrole = \"reader\"\nmax_connections = "
    "{n}\n\n[prompt]\nshow_hostname = true",
    "def act_as_admin(user):\n    # temporary: lets support act as the account owner\n    "
    "return {{\"role\": \"admin\", \"user\": user}}",
    "--- a/config.yaml\n+++ b/config.yaml\n@@ -1,3 +1,3 @@\n-retries: 3\n+retries: {n}\n "
    "instructions: see README",
    "$ {tool_cmd} --help\nusage: {tool_cmd} [-h] [--ignore-previous] [--verbose] SOURCE",
)
CODE_OUTROS: tuple[str, ...] = (
    "Let me know if it breaks anything.", "The rest of the file is unchanged.",
    "I'll be offline after four, ping {name} if it's urgent.", "Cheers, {name}",
)
TOOL_COMMANDS: tuple[str, ...] = ("rsync -av", "pg_dump", "make deploy", "./sync.sh", "backup-tool")

# --- automated notices -------------------------------------------------------------------------
NOTICE_SUBJECTS: tuple[str, ...] = (
    "Your password was changed", "Invitation: {team} sync @ {when}", "Build #{n} failed",
    "Your parcel is on its way", "Receipt for your payment", "Scheduled maintenance on {when}",
    "New sign-in to your account",
)
NOTICES: tuple[str, ...] = (
    "The password for your account was changed on {when}. If this was you, you can ignore this "
    "message. If not, contact your administrator.",
    "{name} {surname} has invited you to {team} sync.\nWhen: {when}, 10:00-10:30\nWhere: room "
    "{n}, {place}\nJoining instructions are in the calendar entry.\nGoing? Yes - Maybe - No",
    "Build #{n} of main failed at step 'test'.\n{n} tests failed, 0 were skipped.\nView the "
    "full log in the CI dashboard. You are receiving this because you pushed the last commit.",
    "Good news: parcel {n}0{n}7 left our depot in {place} and will arrive {when}. No action is "
    "needed. Please do not reply to this automated message.",
    "Thank you for your payment of {n}.00 to the {place} sports centre. Keep this email as your "
    "receipt.",
    "Our systems will be down for maintenance on {when} between 01:00 and 03:00. New "
    "instructions for logging in will follow once the upgrade is complete.",
    "We noticed a new sign-in from {place}. If this was you, there is nothing to do. Otherwise, "
    "reset your password from the settings page.",
)
NOTICE_FOOTERS: tuple[str, ...] = (
    "This is an automated message; replies to this address are not monitored.",
    "Manage your notification settings in your profile.", "",
)

# --- colleagues --------------------------------------------------------------------------------
COLLEAGUE_SUBJECTS: tuple[str, ...] = (
    "notes from today", "cover for {when}", "Re: the {team} handover", "quick favour",
    "agenda for {when}",
)
COLLEAGUE_LINES: tuple[str, ...] = (
    "While I'm away, {other} will act as the contact for the {team} team.",
    "Please ignore my previous email about the rota; the new one is attached.",
    "From now on, all refunds over {n}00 go to finance first. Those are the new rules, not my "
    "idea.",
    "Could you write a summary of the meeting for those who missed it? Half a page is fine.",
    "Your role in the pilot is to collect feedback from the {place} shop and report back.",
    "Forget the slides from last week, we start fresh with the numbers from {when}.",
    "The system prompts for a password twice after the update; IT says that is expected.",
    "Action items: {name} books the room, {other} drafts the plan, I talk to the {team} team.",
    "Remind me to order more labels, we are down to {n} rolls.",
    "Can you pretend to be a customer and test the checkout on the staging site?",
)
COLLEAGUE_CLOSINGS: tuple[str, ...] = (
    "Thanks!", "Cheers,\n{name}", "Speak tomorrow.", "Best,\n{name}",
)

# --- job adverts -------------------------------------------------------------------------------
JOB_SUBJECTS: tuple[str, ...] = (
    "We're hiring: {team} lead in {place}", "Job alert: {n} new roles matching your search",
    "Internal vacancy: {team} coordinator",
)
JOB_LINES: tuple[str, ...] = (
    "In this role you will act as the main point of contact between the {team} team and our "
    "suppliers.",
    "Your new role comes with a company bike and {n} days of training.",
    "You are now able to apply through the careers portal; your saved profile is used "
    "automatically.",
    "Responsibilities: follow the safety rules without exception, write clear instructions for "
    "new staff, and answer questions from the {place} site.",
    "No experience with {tool} is needed; we will teach you everything.",
    "Applications close on {when}. We reply to every applicant within {n} days.",
)

# --- how-to guides -----------------------------------------------------------------------------
HOWTO_SUBJECTS: tuple[str, ...] = (
    "How to set up your {product}", "Getting started with the {team} portal",
    "Five steps to a cleaner inbox", "Guide: moving your files to the new drive",
)
HOWTO_STEPS: tuple[str, ...] = (
    "Step {n}: when the system prompt appears, type your username and press Enter.",
    "Step {n}: ignore the first screen; it only shows the licence.",
    "Step {n}: switch the device to pairing mode by holding the button for five seconds.",
    "Step {n}: disregard any message about missing drivers, they install themselves.",
    "Step {n}: set the role of each user to viewer unless they need to edit.",
    "Step {n}: from now on, always start the day by checking the sync status.",
    "Step {n}: if the screen asks you to enable developer mode, say no; you don't need it.",
    "Step {n}: reset the counter by entering the admin code from the manual.",
)

# --- writing groups ----------------------------------------------------------------------------
WRITING_SUBJECTS: tuple[str, ...] = (
    "This week's prompt", "Writing circle: {when}", "Your feedback on chapter {n}",
)
WRITING_LINES: tuple[str, ...] = (
    "This week's prompt: write a short story about a lighthouse keeper who finds a letter.",
    "Pretend you are a traveller arriving in {place} for the first time, and describe the first "
    "hour.",
    "Try writing a poem about {topic} without using the letter e. It is harder than it sounds.",
    "Your character should act as if nothing is wrong, even while the house falls apart.",
    "Remember the rule: no more than 300 words, and read it aloud before you send it.",
    "{other} will play the role of editor this month, so send your pieces to them.",
    "Ignore the word count if the story needs it; we are not strict.",
)
