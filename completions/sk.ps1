Register-ArgumentCompleter -Native -CommandName sk -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $line = $commandAst.ToString()
    $end = [Math]::Min($cursorPosition - $commandAst.Extent.StartOffset, $line.Length)
    $env:COMP_WORDS = $line.Substring(0, $end)
    $env:COMP_CWORD = $wordToComplete
    $env:_SK_COMPLETE = "powershell_complete"
    $answers = sk 2>$null
    Remove-Item Env:_SK_COMPLETE, Env:COMP_WORDS, Env:COMP_CWORD
    foreach ($answer in $answers) {
        $kind, $value, $help = $answer -split "`t", 3
        if ($kind -eq "file" -or $kind -eq "dir") {
            [System.Management.Automation.CompletionCompleters]::CompleteFilename($value)
            continue
        }
        if (-not $help) { $help = $value }
        [System.Management.Automation.CompletionResult]::new(
            $value, $value, "ParameterValue", $help)
    }
}
